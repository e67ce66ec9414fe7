// 7. 2,000 long-polls (GET /api/v1/allowlist?format=postfix&wait=25 with If-None-Match) waiting
// at once, all woken by one revocation: /healthz latency (requested every 10 ms) while they wake,
// and how long until every one has its answer.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Measurement } from './lib/context.ts';
import { httpRequest, keepAliveAgent, percentile, startPollerProcess, type HttpResponse } from './lib/http.ts';
import { revokeOverHttp } from './lib/instance.ts';
import { errorText, notAvailable, row } from './lib/report.ts';
import { createSeededCa } from './lib/seeded.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';

const M = 'longpoll';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const longpoll: Measurement = {
  id: M,
  title: 'long-polls woken at once',
  async run(ctx) {
    const plan = ctx.quick ? { waiters: 200, active: 200, settleMs: 500 } : { waiters: 2_000, active: 1_000, settleMs: 2_000 };
    const n = plan.waiters.toLocaleString('en-US');
    const figures = [`/healthz max while ${n} long-polls wake`, `/healthz p99 while ${n} long-polls wake`, `all ${n} long-polls answered after the revoke response`];
    const ca = await createSeededCa(ctx, { users: 1 });
    try {
      const { kept } = ca.seed({ active: plan.active, keep: 1 });
      const server = await startServerProcess(benchConfig(ca.db));
      const waitAgent = new http.Agent({ keepAlive: true, maxSockets: plan.waiters + 10 });
      try {
        const agent = keepAliveAgent(2);
        const mta = { authorization: `Bearer ${ca.ca.mtaToken}` };
        const listPath = '/api/v1/allowlist?format=postfix';
        const first = await httpRequest(agent, server.url, { path: listPath, headers: mta });
        if (first.status !== 200 || !first.headers.etag) throw new Error(`GET ${listPath}: HTTP ${first.status}`);
        const etag = first.headers.etag;
        let answered = 0;
        let lastAnswerAt = 0;
        const waiting: Promise<HttpResponse | Error>[] = Array.from({ length: plan.waiters }, () =>
          httpRequest(waitAgent, server.url, { path: `${listPath}&wait=25`, headers: { ...mta, 'if-none-match': etag }, timeoutMs: 40_000 }).then(
            (r) => {
              answered++;
              lastAnswerAt = performance.now();
              return r;
            },
            (e: unknown) => {
              answered++;
              lastAnswerAt = performance.now();
              return e instanceof Error ? e : new Error(String(e));
            },
          ),
        );
        await sleep(plan.settleMs);
        const early = answered;
        const poller = await startPollerProcess(server.url, '/healthz', 10);
        const error = await revokeOverHttp(agent, server.url, ca.ca.adminToken, kept[0]!.serial);
        const revokedAt = performance.now();
        if (error) throw new Error(`revoke: ${error}`);
        const results = await Promise.all(waiting);
        await sleep(100);
        const probe = await poller.stop();
        agent.destroy();
        const ok = results.filter((r) => !(r instanceof Error) && r.status === 200).length;
        const refused = results.filter((r) => !(r instanceof Error) && r.status === 503).length;
        const other = plan.waiters - ok - refused;
        const note = [
          `${ok} answered 200 with the new list`,
          refused ? `${refused} refused with 503 (waiter cap)` : '',
          other ? `${other} other answers/errors` : '',
          early ? `${early} answered before the revocation` : '',
          `${probe.latenciesMs.length} probes`,
        ]
          .filter(Boolean)
          .join('; ');
        ctx.progress(`long-polls: ${note}`);
        if (!probe.latenciesMs.length) throw new Error('no /healthz probe was answered');
        return [
          row({ measurement: M, figure: figures[0]!, value: Math.max(...probe.latenciesMs), unit: 'ms', target: { kind: 'below', limit: 100 }, note }),
          row({ measurement: M, figure: figures[1]!, value: percentile(probe.latenciesMs, 99), unit: 'ms', note }),
          row({ measurement: M, figure: figures[2]!, value: Math.max(0, lastAnswerAt - revokedAt), unit: 'ms', note }),
        ];
      } finally {
        waitAgent.destroy();
        await server.stop();
      }
    } catch (e) {
      return figures.map((f) => notAvailable(M, f, errorText(e)));
    } finally {
      await ca.drop();
    }
  },
};
