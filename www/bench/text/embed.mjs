// The Node side of the text benchmarks' embeddings: all-MiniLM-L6-v2 (int8 ONNX from
// ../shared/models, transformers.js on onnxruntime-node from the peers' install) and the tool
// cache of what it embedded (run.mjs, fusion-explore.mjs, chunks.mjs, embed-windows.mjs).
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));

/** The folder the text benchmarks cache embeddings in (created). */
export function cacheDir() {
  const dir = join(process.env.ELEX_CACHE ?? join(process.env.HOME, '.cache/elex'), 'text-bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `embed(textOrTexts)`: mean-pooled, unit-length embeddings, one intra-op thread. */
export async function embedder(modelDir) {
  const require = createRequire(join(here, '../peers/package.json'));
  const tf = await import(require.resolve('@huggingface/transformers'));
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = modelDir + '/';
  const pipe = await tf.pipeline('feature-extraction', 'all-MiniLM-L6-v2', { dtype: 'q8', session_options: { intraOpNumThreads: 1 } });
  return (x) => pipe(x, { pooling: 'mean', normalize: true });
}

/** The known-item queries' embeddings, one row each, cached by the queries' text. */
export async function queryEmbeddings(items, dims, modelDir, log = () => {}) {
  const key = createHash('sha256').update(items.map((x) => x.text).join('\n')).digest('hex').slice(0, 16);
  const file = join(cacheDir(), `queries-${key}.f32`);
  if (existsSync(file)) {
    log(`query embeddings from ${file}`);
    return new Float32Array(readFileSync(file).buffer.slice(0));
  }
  const t0 = performance.now();
  const embed = await embedder(modelDir);
  log(`model loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  const out = new Float32Array(items.length * dims);
  const t1 = performance.now();
  for (let i = 0; i < items.length; i++) out.set((await embed(items[i].text)).data, i * dims);
  log(`embedded ${items.length} queries in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  writeFileSync(file, Buffer.from(out.buffer));
  return out;
}
