// Bench-only child process: publishes every list from the database from nothing, as a mailca
// server does at start (the incremental publisher's full render of postfix, exim and JSON lists,
// the per-user maps, bundle and CRL), and reports the time and its own peak RSS on stdout as JSON.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { systemClock, HOUR_MS } from '../../src/clock.ts';
import { CaKeyring } from '../../src/issuance/authority.ts';
import { ALLOWLIST_FORMATS, CONSUMER_FORMATS } from '../../src/publishers/formats/index.ts';
import { Publisher } from '../../src/publishers/publish.ts';
import { Store } from '../../src/store/index.ts';

const [sqliteFile, passphrase] = process.argv.slice(2) as [string, string];
const store = await Store.open({ sqliteFile });
const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-publish-'));
try {
  const publisher = new Publisher({ store, keyring: new CaKeyring(store, { passphrase }), clock: systemClock, log: pino({ level: 'silent' }), dir, crlLifetimeMs: 168 * HOUR_MS, portalUrl: 'https://mailca.example/' });
  const t0 = performance.now();
  await publisher.publish();
  const ms = performance.now() - t0;
  const bytes = Object.fromEntries(ALLOWLIST_FORMATS.map((f) => [f, statSync(path.join(dir, CONSUMER_FORMATS[f].allowlistFile)).size]));
  await publisher.close();
  process.stdout.write(JSON.stringify({ ms, bytes, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
  await store.close();
}
