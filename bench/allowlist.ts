// 6. The allow-list of 1,000,000 active certificates (seeded into SQLite): (a) rendered from the
// database by a child process doing what the allow-list endpoint does, time and peak RSS per format;
// (b) over HTTP: the first (uncached) GET of each format from a server just started on that
// database, the server's peak RSS, and conditional re-checks (If-None-Match → 304) per second.

import { execFile } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AllowlistFormat } from '../src/publishers/formats/index.ts';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Measurement } from './lib/context.ts';
import { httpRequest, keepAliveAgent, runLoad } from './lib/http.ts';
import { expectStatus } from './lib/instance.ts';
import { errorText, notAvailable, row, type Row } from './lib/report.ts';
import { createSeededCa } from './lib/seeded.ts';
import { benchConfig, CA_PASSPHRASE, startServerProcess } from './lib/server.ts';

const M = 'allowlist';
const RENDER_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'render-allowlist-child.ts');
const FORMATS = ['postfix', 'json'] as const satisfies readonly AllowlistFormat[];
/** The format the 304 re-checks ask for. */
const RECHECK: (typeof FORMATS)[number] = 'postfix';
const MB = 1_000_000;

export const allowlist: Measurement = {
  id: M,
  title: 'allow-list at 1M active certificates',
  async run(ctx) {
    const plan = ctx.quick ? { active: 5_000, recheckMs: 500 } : { active: 1_000_000, recheckMs: 5_000 };
    const size = plan.active >= 1_000_000 ? `${plan.active / 1_000_000}M` : plan.active.toLocaleString('en-US');
    const rows: Row[] = [];
    const ca = await createSeededCa(ctx, { users: 1 });
    try {
      try {
        ca.seed({ active: plan.active });
      } catch (e) {
        return [notAvailable(M, `allow-list of ${size} active`, `seeding: ${errorText(e)}`)];
      }
      // (a) A child process publishing every list from the database, as a server does at start.
      {
        const figure = `allow-list of ${size} from the database (postfix, exim and json in one publish)`;
        try {
          const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', RENDER_CHILD, ca.db.sqliteFile, CA_PASSPHRASE], { timeout: 300_000, maxBuffer: 1 << 20 });
          const r = JSON.parse(stdout.trim().split('\n').pop()!) as { ms: number; bytes: Record<string, number>; maxRssBytes: number };
          const note = `child process: a full publish by the incremental publisher; ${Object.entries(r.bytes).map(([f, n]) => `${f} ${(n / MB).toFixed(0)} MB`).join(', ')}`;
          rows.push(row({ measurement: M, figure: `${figure}: time`, value: r.ms, unit: 'ms', target: { kind: 'below', limit: 2000 }, note }));
          rows.push(row({ measurement: M, figure: `${figure}: peak RSS`, value: r.maxRssBytes / MB, unit: 'MB', target: { kind: 'below', limit: 300 }, note: 'whole child process (node + the publish)' }));
          ctx.progress(`${figure}: ${r.ms.toFixed(0)} ms, ${(r.maxRssBytes / MB).toFixed(0)} MB`);
        } catch (e) {
          rows.push(notAvailable(M, `${figure}: time`, errorText(e)), notAvailable(M, `${figure}: peak RSS`, errorText(e)));
        }
      }
      // (b) Over HTTP.
      const httpFigures = [...FORMATS.map((f) => `GET allow-list of ${size}, ${f}, first (uncached)`), `mailca server peak RSS at ${size} active`, `allow-list re-checks (304) at ${size} active`];
      try {
        const t0 = performance.now();
        const server = await startServerProcess(benchConfig(ca.db), { startTimeoutMs: 300_000 });
        const startMs = performance.now() - t0;
        try {
          const agent = keepAliveAgent(8);
          const mta = { authorization: `Bearer ${ca.ca.mtaToken}` };
          let etag = '';
          for (const format of FORMATS) {
            const s = performance.now();
            const res = await httpRequest(agent, server.url, { path: `/api/v1/allowlist?format=${format}`, headers: mta, timeoutMs: 180_000, discardBody: true });
            const ms = performance.now() - s;
            if (res.status !== 200) throw new Error(`GET ${format}: HTTP ${res.status}`);
            if (format === RECHECK) etag = String(res.headers.etag);
            rows.push(row({ measurement: M, figure: httpFigures[FORMATS.indexOf(format)]!, value: ms, unit: 'ms', target: { kind: 'below', limit: 2000 }, note: `${(res.bytes / MB).toFixed(0)} MB` }));
          }
          const peak = server.peakRss();
          rows.push(
            peak === undefined
              ? notAvailable(M, httpFigures[2]!, '/proc not readable')
              : row({ measurement: M, figure: httpFigures[2]!, value: peak / MB, unit: 'MB', target: { kind: 'below', limit: 300 }, note: `VmHWM over start (${(startMs / 1000).toFixed(1)} s, first publish included) and the GETs above` }),
          );
          const load = await runLoad({
            concurrency: 8,
            durationMs: plan.recheckMs,
            send: async () => expectStatus(await httpRequest(agent, server.url, { path: `/api/v1/allowlist?format=${RECHECK}`, headers: { ...mta, 'if-none-match': etag } }), 304),
          });
          agent.destroy();
          if (load.ok === 0) throw new Error(`no 304: ${load.firstError}`);
          rows.push(row({ measurement: M, figure: httpFigures[3]!, value: load.perSecond, unit: '/s', target: { kind: 'above', limit: 10_000 }, note: `c=8, ${load.ok} requests${load.failed ? `, ${load.failed} failed: ${load.firstError}` : ''}` }));
        } finally {
          await server.stop();
        }
      } catch (e) {
        const done = new Set(rows.map((r) => r.figure));
        for (const f of httpFigures) if (!done.has(f)) rows.push(notAvailable(M, f, errorText(e)));
      }
      return rows;
    } finally {
      await ca.drop();
    }
  },
};
