// The worker API (`elex/worker`) on the same deterministic job as the page: it must give the same
// ids; errors cross the worker boundary with their codes; a throwing onProgress rolls the batch
// back in the worker; the cache and the learner answer there too.
import { open } from 'elex/worker';

export async function workerApiJob(base, queries, dims) {
  const elex = await open();
  const n = base.length / dims;
  const idx = await elex.HnswIndex.create({ dims, metric: 'cosine', seed: 1 });
  const progress = [];
  const added = await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base, {
    onProgress: (d, t) => progress.push([d, t]),
    sliceMs: 2,
  });
  const ids = [];
  for (let q = 0; q < 10; q++) {
    const r = await idx.search(queries.subarray(q * dims, (q + 1) * dims), 5, 200);
    ids.push([...r.ids]);
  }
  const codes = {};
  for (const [name, f] of [
    ['dims', () => idx.add(99999, new Float32Array(3))],
    ['k', () => idx.search(queries.subarray(0, dims), -1)],
    ['id', () => idx.delete(123456)],
    ['options', () => elex.HnswIndex.create({ dims, bogus: 1 })],
  ]) {
    try {
      await f();
      codes[name] = 'resolved';
    } catch (e) {
      codes[name] = `${e.constructor.name}:${e.code}`;
    }
  }
  // onProgress throws on the page: the batch is rolled back in the worker.
  const mine = new Error('stop here');
  let rejected = null;
  try {
    await idx.addBatch(Float64Array.from({ length: n }, (_, i) => 100000 + i), base, {
      onProgress: () => { throw mine; },
      sliceMs: 0.5,
    });
  } catch (e) {
    rejected = e === mine;
  }
  const sizeAfter = await idx.size;
  // Fired without awaiting: the worker keeps the order.
  const moved = elex.transfer(base.slice(0, dims));
  const p1 = idx.add(200000, moved);
  const p2 = idx.delete(200000);
  await Promise.all([p1, p2]);
  const snap = await idx.snapshot();
  const back = await elex.HnswIndex.restore(snap);
  const cache = await elex.AdaptiveCache.open({ budgetBytes: 2000, dbName: 'worker-api-cache' });
  for (let i = 0; i < 40; i++) await cache.put(`k${i}`, new Uint8Array(100).fill(i));
  const v = await cache.get('k3');
  const learner = await elex.QLearner.create(4, 2, 0.5, 0.9, 1);
  await learner.updateBatch([0], [1], [1], [1], [0]);
  const q01 = await learner.value(0, 1);
  // Text and hybrid search in the worker; the same ids on the page's own module.
  const texts = Array.from({ length: n }, (_, i) => `item ${i} colour${i % 5} shape${i % 3}`);
  const text = await elex.TextIndex.create();
  await text.addBatch(Float64Array.from({ length: n }, (_, i) => i), texts, { sliceMs: 1 });
  const textHits = [...(await text.search('colour2 shape1', 8)).ids];
  const hybrid = await elex.hybridSearch(idx, text, { vector: queries.subarray(0, dims), text: 'colour2', k: 5, fusion: { alpha: 0.5 } });
  let freedCode = null;
  const gone = await elex.TextIndex.create();
  await gone.free();
  try {
    await elex.hybridSearch(idx, gone, { text: 'x', k: 1 });
  } catch (e) {
    freedCode = e.code;
  }
  // Persistent objects in the worker: open, write, flush, close, reopen.
  const dbName = `worker-api-${Date.now()}`;
  const pv = await elex.HnswIndex.open({ dbName, name: 'v', dims });
  await pv.addBatch(Float64Array.from({ length: 10 }, (_, i) => i), base.subarray(0, 10 * dims));
  await pv.add(99, base.subarray(10 * dims, 11 * dims));
  await pv.flush();
  const persistentFlags = [await pv.persistent, await pv.readOnly];
  await pv.close();
  const pv2 = await elex.HnswIndex.open({ dbName, name: 'v' });
  const reopenedSize = await pv2.size;
  const generation = (await pv2.storageStats()).generation;
  await pv2.close();
  const page = await import('elex').then((m) => m.init());
  const pageText = new page.TextIndex();
  await pageText.addBatch(Float64Array.from({ length: n }, (_, i) => i), texts);
  const result = {
    textHits, pageTextHits: [...pageText.search('colour2 shape1', 8).ids], hybridLength: hybrid.length,
    freedCode,
    flavour: elex.flavour, added, progressCalls: progress.length, lastProgress: progress.at(-1), ids, codes,
    rolledBack: rejected, sizeAfter, restoredSize: await back.size, snapshotBytes: snap.length,
    cacheValue: v && v[0], cacheBytes: await cache.bytes, q01, persistentFlags, reopenedSize, generation,
  };
  elex.terminate();
  return result;
}
