// 3. Revocation → list propagation: after the revoke response, how long until (a) the published
// `publish/allowlist.postfix` no longer lists the certificate and (b) a long-poll that was waiting
// (GET /api/v1/allowlist?format=postfix&wait=25 with If-None-Match) returns a list without it.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Measurement } from './lib/context.ts';
import { httpRequest, keepAliveAgent, percentile } from './lib/http.ts';
import { revokeOverHttp } from './lib/instance.ts';
import { errorText, notAvailable, row, type Row } from './lib/report.ts';
import { createSeededCa } from './lib/seeded.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';

const M = 'propagation';
const GIVE_UP_MS = 5_000;
const TARGET_MS = 1_000;

const colonUpper = (hex: string) => (hex.toUpperCase().match(/../g) ?? []).join(':');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const propagation: Measurement = {
  id: M,
  title: 'revocation → allow-list propagation',
  async run(ctx) {
    const plan = ctx.quick ? { active: 300, revocations: 5 } : { active: 10_000, revocations: 40 };
    const fileMs: number[] = [];
    const pollMs: number[] = [];
    const timedOut = { file: 0, poll: 0 };
    const ca = await createSeededCa(ctx, { users: 1 });
    try {
      const { kept } = ca.seed({ active: plan.active, keep: plan.revocations });
      const server = await startServerProcess(benchConfig(ca.db));
      const file = path.join(ca.db.dataDir, 'publish', 'allowlist.postfix');
      try {
        const agent = keepAliveAgent(4);
        const mta = { authorization: `Bearer ${ca.ca.mtaToken}` };
        const listPath = '/api/v1/allowlist?format=postfix';
        for (const target of kept) {
          const line = `${colonUpper(target.fingerprintSha256)} OK`;
          const current = await httpRequest(agent, server.url, { path: listPath, headers: mta });
          const etag = current.headers.etag;
          if (current.status !== 200 || !etag) throw new Error(`GET ${listPath}: HTTP ${current.status}`);
          if (!current.body.includes(line)) throw new Error(`certificate ${target.serial} is not on the allow-list before its revocation`);
          // (b) A long-poll waiting for the next change; re-asked if it wakes for something else.
          let revokedAt = Number.POSITIVE_INFINITY;
          const longPoll = (async () => {
            let tag = etag;
            for (;;) {
              const res = await httpRequest(agent, server.url, { path: `${listPath}&wait=25`, headers: { ...mta, 'if-none-match': tag }, timeoutMs: 30_000 });
              const at = performance.now();
              if (res.status === 200 && !res.body.includes(line)) return at;
              if (at - revokedAt > GIVE_UP_MS) return undefined;
              tag = res.headers.etag ?? tag;
            }
          })();
          await sleep(50); // let the server park the long-poll
          const error = await revokeOverHttp(agent, server.url, ca.ca.adminToken, target.serial);
          revokedAt = performance.now();
          if (error) throw new Error(`revoke: ${error}`);
          // (a) The published file, re-read every 2 ms.
          let fileAt: number | undefined;
          while (performance.now() - revokedAt < GIVE_UP_MS) {
            const text = await readFile(file, 'utf8').catch(() => '');
            if (text && !text.includes(line)) {
              fileAt = performance.now();
              break;
            }
            await sleep(2);
          }
          if (fileAt === undefined) timedOut.file++;
          else fileMs.push(Math.max(0, fileAt - revokedAt));
          const pollAt = await Promise.race([longPoll, sleep(GIVE_UP_MS + 1000).then(() => undefined)]);
          if (pollAt === undefined) timedOut.poll++;
          else pollMs.push(Math.max(0, pollAt - revokedAt));
          if (timedOut.file + timedOut.poll >= 6) break; // not propagating: do not spend minutes proving it
        }
        agent.destroy();
      } finally {
        await server.stop();
      }
    } catch (e) {
      return ['file', 'long-poll'].flatMap((what) => ['p50', 'p99'].map((p) => notAvailable(M, `revocation → ${what} ${p}`, errorText(e))));
    } finally {
      await ca.drop();
    }
    const rows: Row[] = [];
    const sizeNote = `${plan.active.toLocaleString('en-US')} active`;
    for (const [what, samples, lost] of [
      ['publish/allowlist.postfix', fileMs, timedOut.file],
      ['waiting long-poll', pollMs, timedOut.poll],
    ] as const) {
      // A revocation that never propagated counts as the give-up time (a lower bound).
      const all = [...samples, ...Array<number>(lost).fill(GIVE_UP_MS)];
      const note = `${all.length} revocations at ${sizeNote}${lost ? `; ${lost} not seen within ${GIVE_UP_MS / 1000} s (counted as ${GIVE_UP_MS / 1000} s)` : ''}`;
      rows.push(row({ measurement: M, figure: `revoke response → ${what}, p50`, value: percentile(all, 50), unit: 'ms', note }));
      rows.push(row({ measurement: M, figure: `revoke response → ${what}, p99`, value: percentile(all, 99), unit: 'ms', target: { kind: 'at-most', limit: TARGET_MS }, note }));
    }
    return rows;
  },
};
