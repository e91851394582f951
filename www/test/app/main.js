import { init } from 'elex';
import { job } from './work.js';

const out = document.getElementById('out');
try {
  const elex = await init();
  const main = await job(elex);
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const fromWorker = await new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message));
  });
  window.__result = { main, worker: fromWorker };
  out.textContent = `done: ${main.flavour}`;
} catch (e) {
  window.__result = { error: String(e && e.stack ? e.stack : e) };
  out.textContent = `error: ${e}`;
}
