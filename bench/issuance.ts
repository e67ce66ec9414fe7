// 1. Issuance over HTTP as users see it: POST /api/v1/enrol with a session (CSR check, signing, the
// database write with its audit event, publishing) at concurrency 1/4/16, on SQLite and on
// PostgreSQL, next to `cfssl serve` answering POST /api/v1/cfssl/sign with the same CSRs and the
// same load generator.

import { startCfssl } from './lib/cfssl.ts';
import type { BenchContext, Measurement } from './lib/context.ts';
import { csrPool } from './lib/csr.ts';
import { createBenchDatabase, type DatabaseKind } from './lib/database.ts';
import { httpRequest, keepAliveAgent, runLoad, type LoadResult } from './lib/http.ts';
import { expectStatus, prepareCa, signIn } from './lib/instance.ts';
import { errorText, notAvailable, row, type Row } from './lib/report.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';

const CONCURRENCY = [1, 4, 16] as const;
const M = 'issuance';

interface Plan {
  durationMs: number;
  warmupMs: number;
  csrs: number;
  /** Signed-in users; workers share their sessions round-robin. */
  users: number;
}

type Send = (i: number, worker: number) => Promise<string | undefined>;

async function measureLevels(ctx: BenchContext, label: string, plan: Plan, makeSend: (c: number) => Send): Promise<Map<number, LoadResult>> {
  const results = new Map<number, LoadResult>();
  await runLoad({ concurrency: 4, durationMs: plan.warmupMs, send: makeSend(4) });
  for (const c of CONCURRENCY) {
    const r = await runLoad({ concurrency: c, durationMs: plan.durationMs, send: makeSend(c) });
    if (r.ok === 0) throw new Error(r.firstError ?? 'no request succeeded');
    ctx.progress(`${label} c=${c}: ${r.perSecond.toFixed(0)}/s (${r.ok} ok, ${r.failed} failed)`);
    results.set(c, r);
  }
  return results;
}

async function cfsslRates(ctx: BenchContext, plan: Plan, csrs: string[]): Promise<Map<number, LoadResult>> {
  const cfssl = await startCfssl();
  try {
    return await measureLevels(ctx, 'cfssl serve', plan, (c) => {
      const agent = keepAliveAgent(c);
      return async (i) => expectStatus(await httpRequest(agent, cfssl.url, { method: 'POST', path: '/api/v1/cfssl/sign', body: { certificate_request: csrs[i % csrs.length], profile: 'client' } }), 200);
    });
  } finally {
    await cfssl.stop();
  }
}

async function mailcaRates(ctx: BenchContext, kind: DatabaseKind, plan: Plan, csrs: string[]): Promise<Map<number, LoadResult>> {
  const db = await createBenchDatabase(kind);
  try {
    const maxC = Math.max(...CONCURRENCY);
    const ca = await prepareCa(db, { users: plan.users });
    const server = await startServerProcess(benchConfig(db));
    try {
      const setupAgent = keepAliveAgent(maxC);
      const cookies = await Promise.all(ca.userEmails.map((e) => signIn(setupAgent, server.url, e)));
      setupAgent.destroy();
      return await measureLevels(ctx, `mailca ${kind}`, plan, (c) => {
        const agent = keepAliveAgent(c);
        return async (i, w) =>
          expectStatus(await httpRequest(agent, server.url, { method: 'POST', path: '/api/v1/enrol', headers: { cookie: cookies[w % cookies.length]! }, body: { csr: csrs[i % csrs.length], device_label: 'bench' } }), 201);
      });
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
}

export const issuance: Measurement = {
  id: M,
  title: 'HTTP issuance (enrol API) next to cfssl serve',
  async run(ctx) {
    const plan: Plan = ctx.quick ? { durationMs: 300, warmupMs: 100, csrs: 200, users: 4 } : { durationMs: 6000, warmupMs: 1500, csrs: 4000, users: 16 };
    const csrs = csrPool(plan.csrs);
    const figure = (kind: string, c: number) => `HTTP issuance, ${kind}, c=${c}`;
    let peer: Map<number, LoadResult> | undefined;
    let peerError: string | undefined;
    try {
      peer = await cfsslRates(ctx, plan, csrs);
    } catch (e) {
      peerError = errorText(e);
    }
    const rows: Row[] = [];
    for (const kind of ['sqlite', 'postgres'] as const) {
      try {
        const ours = await mailcaRates(ctx, kind, plan, csrs);
        for (const c of CONCURRENCY) {
          const r = ours.get(c)!;
          rows.push(
            row({
              measurement: M,
              figure: figure(kind === 'sqlite' ? 'SQLite' : 'PostgreSQL', c),
              value: r.perSecond,
              unit: 'certs/s',
              peer: 'cfssl serve',
              peerValue: peer?.get(c)?.perSecond ?? null,
              target: { kind: 'ratio-at-least', ratio: 1.0 },
              note: [r.failed ? `${r.failed} requests failed: ${r.firstError}` : '', peerError ? `cfssl n/a (${peerError})` : ''].filter(Boolean).join('; ') || undefined,
            }),
          );
        }
      } catch (e) {
        for (const c of CONCURRENCY) rows.push(notAvailable(M, figure(kind === 'sqlite' ? 'SQLite' : 'PostgreSQL', c), errorText(e), { peer: 'cfssl serve', peerValue: peer?.get(c)?.perSecond ?? null, unit: 'certs/s' }));
      }
    }
    return rows;
  },
};
