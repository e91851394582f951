// The same deterministic job on the main thread and in a worker: a seeded index over seeded
// vectors, ten queries. Both must give the same ids (and the test checks them against brute force).
export async function job(elex) {
  const dims = 24, n = 1500;
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const base = new Float32Array(n * dims).map(rand);
  const queries = new Float32Array(10 * dims).map(rand);
  const idx = new elex.HnswIndex({ dims, metric: 'cosine', seed: 1 });
  await idx.addBatch(Float64Array.from({ length: n }, (_, i) => i), base);
  const ids = [];
  for (let q = 0; q < 10; q++) ids.push([...idx.search(queries.subarray(q * dims, (q + 1) * dims), 5, 200).ids]);
  await idx.save('packaging-test', 'idx');
  const back = await elex.HnswIndex.load('packaging-test', 'idx');
  return { flavour: elex.flavour, ids, reloaded: back.size, base: [...base], queries: [...queries], dims };
}
