import { init } from 'elex';
import { job } from './work.js';

try {
  const elex = await init();
  self.postMessage(await job(elex));
} catch (e) {
  self.postMessage({ error: String(e && e.stack ? e.stack : e) });
}
