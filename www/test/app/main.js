import { init } from 'elex';
import { init as initCore } from 'elex/core';
import { job } from './work.js';
import { workerApiJob } from './worker-api.js';

const out = document.getElementById('out');
try {
  const elex = await init();
  const main = await job(elex);
  // The core build (elex/core) on the same job: the same answers from the smaller download.
  const core = await job(await initCore());
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const fromWorker = await new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message));
  });
  const api = await workerApiJob(Float32Array.from(main.base), Float32Array.from(main.queries), main.dims);
  window.__result = { main, worker: fromWorker, api, core: { build: (await initCore()).build, ids: core.ids, reloaded: core.reloaded } };
  out.textContent = `done: ${main.flavour}`;
} catch (e) {
  window.__result = { error: String(e && e.stack ? e.stack : e) };
  out.textContent = `error: ${e}`;
}
