// The three WebAssembly builds in headless Chromium (which runs relaxed SIMD): `init()` picks the
// relaxed build there, and it gives the same snapshot bytes as the simd128 build, for every
// storage, on real 384-d embeddings (docs-50k) and on 50-d vectors (inserts walk on i8 codes, so
// both go through the relaxed i8 kernels). Search results are the simd build's too, except where
// the relaxed build's searches walk on 4-bit codes (f32 storage from 32 dims): there its results
// are the relaxed core build's, and their recall against exact answers is the simd build's within
// 0.02. Node 20, where the other tests run, has no relaxed SIMD.
import assert from 'node:assert/strict';
import test from 'node:test';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readVecs } from '../bench/fvecs.mjs';
import { serveDir, launchChromium } from './serve.mjs';

const www = join(dirname(fileURLToPath(import.meta.url)), '..');
const data = join(www, '..', '..', 'shared', 'data', 'docs-50k');
const N = 3000, NQ = 100;

let server, browser, page;
test.before(async () => {
  server = await serveDir(www);
  browser = await launchChromium();
  page = await browser.newPage();
  const base = readVecs(join(data, 'base.fvecs'), N), queries = readVecs(join(data, 'query.fvecs'), NQ);
  const body = { '/data/base.f32': base.data, '/data/query.f32': queries.data };
  await page.route('**/data/*.f32', (route) => route.fulfill({ body: Buffer.from(body[new URL(route.request().url()).pathname].buffer), contentType: 'application/octet-stream' }));
  await page.goto(`${server.url}package.json`);
});
test.after(async () => {
  await browser?.close();
  server?.close();
});

test('the relaxed build uses instructions beyond simd128 (Node 20 cannot validate it; it validates the simd build)', { skip: !/^v20\./.test(process.version) && 'Node 20 only' }, () => {
  const wasm = (flavour) => readFileSync(join(www, 'pkg', 'web', flavour, 'elex_bg.wasm'));
  assert.deepEqual(['relaxed', 'relaxed-core', 'simd', 'simd-core'].map((f) => WebAssembly.validate(wasm(f))), [false, false, true, true]);
});

test('Chromium: relaxed SIMD is detected and init() loads the relaxed build of both builds; a bad flavour is a coded error', async () => {
  const got = await page.evaluate(async () => {
    const full = await import('/src/index.js'), core = await import('/src/core.js');
    const out = { relaxed: await full.relaxedSimdSupported(), simd: await full.simdSupported() };
    out.full = (await full.init()).flavour;
    out.core = (await core.init()).flavour;
    out.forced = [(await full.init({ flavour: 'simd' })).flavour, (await full.init({ simd: false })).flavour, (await core.init({ flavour: 'relaxed' })).flavour];
    out.files = performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.endsWith('.wasm')).sort();
    try {
      await full.init({ flavour: 'avx' });
      out.bad = 'resolved';
    } catch (e) {
      out.bad = `${e.code}: ${e.message}`;
    }
    return out;
  });
  assert.deepEqual(got, {
    relaxed: true,
    simd: true,
    full: 'relaxed',
    core: 'relaxed',
    forced: ['simd', 'scalar', 'relaxed'],
    files: ['/pkg/web/relaxed-core/elex_bg.wasm', '/pkg/web/relaxed/elex_bg.wasm', '/pkg/web/scalar/elex_bg.wasm', '/pkg/web/simd/elex_bg.wasm'],
    bad: 'INVALID_ARGUMENT: init: flavour must be one of relaxed, simd, scalar, got avx',
  });
});

test('Chromium: the relaxed build gives the simd build\'s snapshot bytes, and its search results or, walking on 4-bit codes (f32, i8 + keepF32), their recall (every storage, 384-d and 50-d)', async (t) => {
  const cases = await page.evaluate(async ({ N, NQ }) => {
    const full = await import('/src/index.js'), core = await import('/src/core.js');
    const R = await full.init({ flavour: 'relaxed' }), S = await full.init({ flavour: 'simd' });
    const C = await core.init({ flavour: 'relaxed' });
    const f32 = async (p) => new Float32Array(await (await fetch(p)).arrayBuffer());
    const docs = await f32('/data/base.f32'), docsQ = await f32('/data/query.f32');
    // 50-d: the first 50 components of the same vectors (not unit length, so l2 differs from cosine).
    const cut = (v, from, to) => {
      const rows = v.length / from, out = new Float32Array(rows * to);
      for (let i = 0; i < rows; i++) out.set(v.subarray(i * from, i * from + to), i * to);
      return out;
    };
    const sets = [
      { name: '384-d docs-50k', dims: 384, base: docs, queries: docsQ },
      { name: '50-d', dims: 50, base: cut(docs, 384, 50), queries: cut(docsQ, 384, 50) },
    ];
    const configs = [
      { metric: 'cosine' },
      { metric: 'l2' },
      { metric: 'dot', storage: 'f16' },
      { metric: 'cosine', storage: 'i8', keepF32: true },
      { metric: 'l2', storage: 'i8' },
    ];
    const ids = Float64Array.from({ length: N }, (_, i) => i);
    // Exact top 10 of each query (id 5 deleted, as in the indexes), by the metric's score.
    const exactTop = (set, metric) => {
      const { dims, base, queries } = set;
      const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      return Array.from({ length: NQ }, (_, q) => {
        const qv = queries.subarray(q * dims, (q + 1) * dims), qn = norm(qv);
        const scored = [];
        for (let i = 0; i < N; i++) {
          if (i === 5) continue;
          const x = base.subarray(i * dims, (i + 1) * dims);
          let dot = 0, l2 = 0;
          for (let j = 0; j < dims; j++) { dot += qv[j] * x[j]; l2 += (qv[j] - x[j]) ** 2; }
          scored.push([i, metric === 'l2' ? -l2 : metric === 'dot' ? dot : dot / (qn * norm(x))]);
        }
        return new Set(scored.sort((a, b) => b[1] - a[1]).slice(0, 10).map(([i]) => i));
      });
    };
    const recall = (res, exact) => res.reduce((h, r, q) =>
      h + r.split('|')[0].split(',').filter((id) => exact[q].has(Number(id))).length, 0) / (NQ * 10);
    const out = [];
    for (const set of sets) {
      for (const cfg of configs) {
        const opts = { dims: set.dims, m: 16, efConstruction: 100, seed: 7, ...cfg };
        const bytes = [], results = [];
        for (const elex of [R, S, C]) {
          const idx = new elex.HnswIndex(opts);
          await idx.addBatch(ids, set.base);
          idx.delete(5);
          bytes.push(idx.toBytes());
          const res = [];
          for (let q = 0; q < NQ; q++) {
            const r = idx.search(set.queries.subarray(q * set.dims, (q + 1) * set.dims), 10, 40);
            res.push(`${[...r.ids]}|${[...r.scores]}`);
          }
          results.push(res);
          idx.free();
        }
        const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
        const exact = exactTop(set, cfg.metric);
        out.push({
          // f32 (the default) and i8 with f32 copies walk on 4-bit codes in the relaxed build.
          walksU4: !cfg.storage || cfg.keepF32 === true,
          recallRelaxed: recall(results[0], exact),
          recallSimd: recall(results[1], exact),
          name: `${set.name} ${JSON.stringify(cfg)}`,
          size: bytes[0].length,
          bytesRelaxedSimd: same(bytes[0], bytes[1]),
          bytesCoreFull: same(bytes[0], bytes[2]),
          resultsRelaxedSimd: results[0].filter((r, i) => r === results[1][i]).length,
          resultsCoreFull: results[0].filter((r, i) => r === results[2][i]).length,
          found: results[0].filter((r) => r.split('|')[0].split(',').length === 10).length,
        });
      }
    }
    return out;
  }, { N, NQ });
  assert.equal(cases.length, 10);
  for (const c of cases) {
    assert.ok(c.size > N * 50, `${c.name}: ${c.size} bytes`);
    assert.deepEqual([c.bytesRelaxedSimd, c.bytesCoreFull, c.resultsCoreFull, c.found], [true, true, NQ, NQ], c.name);
    if (c.walksU4) {
      t.diagnostic(`${c.name}: recall@10 ${c.recallRelaxed} relaxed (4-bit walk), ${c.recallSimd} simd (i8 walk); ${c.resultsRelaxedSimd} of ${NQ} result lists the same`);
      assert.ok(Math.abs(c.recallRelaxed - c.recallSimd) <= 0.02, `${c.name}: recall ${c.recallRelaxed} against ${c.recallSimd}`);
      assert.ok(c.recallSimd >= 0.9, `${c.name}: recall ${c.recallSimd}`);
    } else {
      assert.equal(c.resultsRelaxedSimd, NQ, c.name);
    }
  }
  // The relaxed build does walk on its 4-bit codes, f32 and i8 + keepF32 alike: some results
  // differ from the i8 walk's.
  assert.ok(cases.some((c) => c.walksU4 && !c.name.includes('keepF32') && c.resultsRelaxedSimd < NQ));
  assert.ok(cases.some((c) => c.walksU4 && c.name.includes('keepF32') && c.resultsRelaxedSimd < NQ));
});
