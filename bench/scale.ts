// 2. Enrol and revoke rates over HTTP (c=4) at 0, 10,000 and 100,000 existing active
// certificates (seeded into SQLite before mailca starts): a change must cost the same at any size.

import type { Measurement } from './lib/context.ts';
import { csrPool } from './lib/csr.ts';
import { httpRequest, keepAliveAgent, runLoad, type LoadResult } from './lib/http.ts';
import { expectStatus, revokeOverHttp, signIn } from './lib/instance.ts';
import { errorText, notAvailable, row, type Row } from './lib/report.ts';
import { createSeededCa } from './lib/seeded.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';

const M = 'scale';
const CONCURRENCY = 4;

export const scale: Measurement = {
  id: M,
  title: 'enrol and revoke rates by CA size',
  async run(ctx) {
    const plan = ctx.quick
      ? { levels: [0, 300, 1_000], durationMs: 500, warmupMs: 150, maxRequests: 100 }
      : { levels: [0, 10_000, 100_000], durationMs: 6_000, warmupMs: 1_500, maxRequests: 3_000 };
    const csrs = csrPool(Math.min(plan.maxRequests, 1000));
    const label = (n: number) => n.toLocaleString('en-US');
    const results = new Map<number, { enrol?: LoadResult; revoke?: LoadResult; error?: string }>();
    const ca = await createSeededCa(ctx, { users: CONCURRENCY });
    try {
      for (const level of plan.levels) {
        const result: { enrol?: LoadResult; revoke?: LoadResult; error?: string } = {};
        results.set(level, result);
        try {
          const kept = level > ca.seeded.active ? ca.seed({ active: level - ca.seeded.active, keep: plan.maxRequests }).kept : [];
          const server = await startServerProcess(benchConfig(ca.db));
          try {
            const agent = keepAliveAgent(CONCURRENCY);
            const cookies = await Promise.all(ca.ca.userEmails.map((e) => signIn(agent, server.url, e)));
            const enrolled: string[] = [];
            const enrol = async (i: number, w: number) => {
              const res = await httpRequest(agent, server.url, { method: 'POST', path: '/api/v1/enrol', headers: { cookie: cookies[w]! }, body: { csr: csrs[i % csrs.length] } });
              if (res.status === 201) enrolled.push((JSON.parse(res.body) as { serial: string }).serial);
              return expectStatus(res, 201);
            };
            // Warm-up (not counted): the first requests after a start pay for compilation and caches.
            await runLoad({ concurrency: CONCURRENCY, durationMs: plan.warmupMs, maxRequests: 50, send: enrol });
            const warmupEnrolled = enrolled.splice(0);
            result.enrol = await runLoad({
              concurrency: CONCURRENCY,
              durationMs: plan.durationMs,
              maxRequests: plan.maxRequests,
              send: enrol,
            });
            // Revoke seeded certificates where there are some, else the ones just enrolled; the
            // warm-up revokes some of the ones enrolled during the enrol warm-up.
            await runLoad({ concurrency: CONCURRENCY, durationMs: plan.warmupMs, maxRequests: warmupEnrolled.length, send: (i) => revokeOverHttp(agent, server.url, ca.ca.adminToken, warmupEnrolled[i]!) });
            const targets = kept.length ? kept.map((k) => k.serial) : enrolled;
            result.revoke = await runLoad({
              concurrency: CONCURRENCY,
              durationMs: plan.durationMs,
              maxRequests: targets.length,
              send: (i) => revokeOverHttp(agent, server.url, ca.ca.adminToken, targets[i]!),
            });
            agent.destroy();
            ctx.progress(`at ${label(level)} active: enrol ${result.enrol.perSecond.toFixed(1)}/s (${result.enrol.ok}), revoke ${result.revoke.perSecond.toFixed(1)}/s (${result.revoke.ok})`);
          } finally {
            await server.stop();
          }
        } catch (e) {
          result.error = errorText(e);
        }
      }
    } finally {
      await ca.drop();
    }
    const rows: Row[] = [];
    const base = results.get(plan.levels[0]!);
    const largest = plan.levels[plan.levels.length - 1]!;
    for (const op of ['enrol', 'revoke'] as const) {
      for (const level of plan.levels) {
        const r = results.get(level);
        const figure = `${op} rate at ${label(level)} active (c=${CONCURRENCY})`;
        const measured = r?.[op];
        if (!measured || measured.ok === 0) {
          rows.push(notAvailable(M, figure, r?.error ?? measured?.firstError ?? 'not measured'));
          continue;
        }
        const isBase = level === plan.levels[0];
        rows.push(
          row({
            measurement: M,
            figure,
            value: measured.perSecond,
            unit: '/s',
            ...(isBase ? {} : { peer: `same at ${label(plan.levels[0]!)}`, peerValue: base?.[op]?.ok ? base[op]!.perSecond : null }),
            ...(level === largest ? { target: { kind: 'ratio-at-least' as const, ratio: 0.8 } } : {}),
            note: [`${measured.ok} requests in ${(measured.elapsedMs / 1000).toFixed(1)} s`, measured.failed ? `${measured.failed} failed: ${measured.firstError}` : ''].filter(Boolean).join('; '),
          }),
        );
      }
    }
    if (ca.seeded.notes.length) rows[rows.length - 1]!.note += `; seeding: ${ca.seeded.notes.join('; ')}`;
    return rows;
  },
};
