// 5. Responsiveness during a batch of revocations: /healthz requested every 10 ms while 1,000
// revocations go through the admin API (c=4) on a CA with 100,000 revoked and 100,000 active
// certificates (seeded). Every revocation re-signs a 100k-entry CRL and re-publishes.

import type { Measurement } from './lib/context.ts';
import { keepAliveAgent, percentile, runLoad, startPollerProcess } from './lib/http.ts';
import { revokeOverHttp } from './lib/instance.ts';
import { errorText, notAvailable, row } from './lib/report.ts';
import { createSeededCa } from './lib/seeded.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';

const M = 'healthz';

export const healthz: Measurement = {
  id: M,
  title: '/healthz during revocations at 100k revoked / 100k active',
  async run(ctx) {
    const plan = ctx.quick
      ? { active: 1_000, revoked: 1_000, revocations: 50, budgetMs: 3_000 }
      : { active: 100_000, revoked: 100_000, revocations: 1_000, budgetMs: 45_000 };
    const k = (n: number) => n.toLocaleString('en-US');
    const what = `during ${k(plan.revocations)} revocations at ${k(plan.revoked)} revoked / ${k(plan.active)} active`;
    const figures = [`/healthz p99 ${what}`, `/healthz max ${what}`];
    const ca = await createSeededCa(ctx, { users: 1 });
    try {
      const { kept } = ca.seed({ active: plan.active, revoked: plan.revoked, keep: plan.revocations });
      const server = await startServerProcess(benchConfig(ca.db));
      try {
        const agent = keepAliveAgent(4);
        const poller = await startPollerProcess(server.url, '/healthz', 10);
        const load = await runLoad({
          concurrency: 4,
          durationMs: plan.budgetMs,
          maxRequests: kept.length,
          send: (i) => revokeOverHttp(agent, server.url, ca.ca.adminToken, kept[i]!.serial),
        });
        const probe = await poller.stop();
        agent.destroy();
        if (load.ok === 0) throw new Error(`no revocation succeeded: ${load.firstError}`);
        const note = [
          `${load.ok} of ${k(plan.revocations)} revocations done in ${(load.elapsedMs / 1000).toFixed(1)} s${load.ok < plan.revocations ? ` (time budget ${plan.budgetMs / 1000} s)` : ''} = ${load.perSecond.toFixed(1)}/s`,
          `${probe.latenciesMs.length} probes (sent every 10 ms whether or not earlier ones were answered), p50 ${percentile(probe.latenciesMs, 50).toFixed(1)} ms`,
          probe.failed ? `${probe.failed} probes failed` : '',
          load.failed ? `${load.failed} revocations failed: ${load.firstError}` : '',
        ]
          .filter(Boolean)
          .join('; ');
        ctx.progress(`healthz: ${note}`);
        return [
          row({ measurement: M, figure: figures[0]!, value: percentile(probe.latenciesMs, 99), unit: 'ms', target: { kind: 'below', limit: 50 }, note }),
          row({ measurement: M, figure: figures[1]!, value: Math.max(...probe.latenciesMs), unit: 'ms', note }),
        ];
      } finally {
        await server.stop();
      }
    } catch (e) {
      return figures.map((f) => notAvailable(M, f, errorText(e)));
    } finally {
      await ca.drop();
    }
  },
};
