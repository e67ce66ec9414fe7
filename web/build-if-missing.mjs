// Builds the portal (web/dist) with Vite when it is missing or older than its sources.
// Used by `npm start` (prestart) and the browser tests; concurrent callers wait for one build.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(webDir, 'dist');
const lock = path.join(webDir, '.build.lock');
const sources = [path.join(webDir, 'src'), path.join(webDir, 'index.html'), path.join(webDir, 'vite.config.ts')];

function newestMtime(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

function upToDate() {
  const index = path.join(dist, 'index.html');
  return existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.map(newestMtime));
}

async function takeLock() {
  for (const started = Date.now(); ; ) {
    try {
      mkdirSync(lock);
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      if (Date.now() - statSync(lock).mtimeMs > 5 * 60_000) rmSync(lock, { recursive: true, force: true }); // left by a crash
      if (Date.now() - started > 3 * 60_000) throw new Error(`gave up waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function buildIfMissing({ quiet = false } = {}) {
  if (upToDate()) return false;
  await takeLock();
  try {
    if (upToDate()) return false; // another process built it while we waited
    let build;
    try {
      ({ build } = await import('vite'));
    } catch {
      console.error('mailca: the web portal is not built and Vite is not installed (npm ci without --omit=dev installs it). Serving the API only.');
      return false;
    }
    const tmp = path.join(webDir, `.dist-${process.pid}`);
    if (!quiet) console.log('mailca: building the web portal (web/dist)…');
    await build({ configFile: path.join(webDir, 'vite.config.ts'), build: { outDir: tmp, emptyOutDir: true }, logLevel: quiet ? 'error' : 'warn' });
    rmSync(dist, { recursive: true, force: true });
    renameSync(tmp, dist);
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildIfMissing();
}
