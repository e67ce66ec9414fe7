// Bench-only child process: renders one allow-list format from the database, as mailca does for
// GET /api/v1/allowlist (Store.certificates.listActive + renderAllowlist), and reports the time
// and its own peak RSS on stdout as JSON.

import { performance } from 'node:perf_hooks';
import { renderAllowlist, type AllowlistFormat } from '../../src/publishers/allowlists.ts';
import { Store } from '../../src/store/index.ts';

const [sqliteFile, format] = process.argv.slice(2) as [string, AllowlistFormat];
const store = await Store.open({ sqliteFile });
try {
  const t0 = performance.now();
  const body = renderAllowlist(format, await store.certificates.listActive(new Date()));
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, bytes: Buffer.byteLength(body), maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
} finally {
  await store.close();
}
