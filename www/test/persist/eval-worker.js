// A module worker for the browser tests and benches: loads the package from source, then runs
// the functions the page posts (their source text) with `elex` in scope, and answers with what
// they return or throw. Used for what only a dedicated worker can do (OPFS sync access).
import { init } from '/src/index.js';

const ready = init().then((elex) => { self.elex = elex; });
self.onmessage = async ({ data: { id, src, arg } }) => {
  try {
    await ready;
    // eslint-disable-next-line no-eval
    const f = (0, eval)(`(${src})`);
    postMessage({ id, ok: await f(arg) });
  } catch (e) {
    postMessage({ id, err: { message: String(e && e.message), code: e && e.code, name: e && e.name } });
  }
};
