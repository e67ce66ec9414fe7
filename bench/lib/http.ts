// Bench-only HTTP client and load generator: node:http with keep-alive agents, the same code for
// mailca and its peers, running in the bench process (servers run in their own processes).

import { fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const POLLER_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'poller-child.ts');

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Body length in bytes (also when the body was discarded). */
  bytes: number;
}

export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export function httpRequest(
  agent: http.Agent,
  baseUrl: string,
  req: { method?: string; path: string; headers?: Record<string, string>; body?: string | object; timeoutMs?: number; discardBody?: boolean },
): Promise<HttpResponse> {
  const url = new URL(req.path, baseUrl);
  const payload = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const headers: Record<string, string> = { ...req.headers };
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const r = http.request(
      { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method ?? 'GET', headers },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (!req.discardBody) chunks.push(c);
        });
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), bytes });
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.timeoutMs) r.setTimeout(req.timeoutMs, () => r.destroy(new Error(`no answer within ${req.timeoutMs} ms`)));
    r.end(payload);
  });
}

export interface LoadResult {
  ok: number;
  failed: number;
  elapsedMs: number;
  perSecond: number;
  latenciesMs: number[];
  firstError?: string;
}

/**
 * `concurrency` workers, each sending one request after another until `durationMs` has passed or
 * `maxRequests` were started; requests in flight at the deadline are waited for and counted.
 * `send` resolves to an error text for a failed request, undefined for success.
 */
export async function runLoad(opts: {
  concurrency: number;
  durationMs: number;
  maxRequests?: number;
  send: (index: number, worker: number) => Promise<string | undefined>;
}): Promise<LoadResult> {
  const max = opts.maxRequests ?? Number.POSITIVE_INFINITY;
  const latenciesMs: number[] = [];
  let started = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  async function worker(w: number) {
    while (started < max && performance.now() < deadline) {
      const i = started++;
      const s = performance.now();
      let error: string | undefined;
      try {
        error = await opts.send(i, w);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (error === undefined) {
        ok++;
        latenciesMs.push(performance.now() - s);
      } else {
        failed++;
        firstError ??= error;
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - t0;
  return { ok, failed, elapsedMs, perSecond: ok / (elapsedMs / 1000), latenciesMs, firstError };
}

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * GET `path` every `intervalMs` whatever the previous request is doing (so a frozen server shows
 * as many slow samples, not one), until stopped; returns each request's latency.
 */
/**
 * startPoller in a child process of its own (bench/lib/poller-child.ts): the load this process
 * generates (and the responses it reads) cannot delay the probes' timings.
 */
export async function startPollerProcess(baseUrl: string, probePath: string, intervalMs: number): Promise<{ stop(): Promise<{ latenciesMs: number[]; failed: number }> }> {
  const child = fork(POLLER_CHILD, [baseUrl, probePath, String(intervalMs)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the poller exited (${code})`)));
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('message', (m: { latenciesMs: number[]; failed: number }) => resolve({ latenciesMs: m.latenciesMs, failed: m.failed }));
        child.once('exit', (code) => reject(new Error(`the poller exited (${code}) before reporting`)));
        child.send({ type: 'stop' });
      }),
  };
}

export function startPoller(baseUrl: string, path: string, intervalMs: number): { stop(): Promise<{ latenciesMs: number[]; failed: number }> } {
  const agent = new http.Agent({ keepAlive: true });
  const latenciesMs: number[] = [];
  const pending = new Set<Promise<void>>();
  let failed = 0;
  const timer = setInterval(() => {
    const s = performance.now();
    const p = httpRequest(agent, baseUrl, { path, timeoutMs: 60_000 }).then(
      (r) => {
        if (r.status === 200) latenciesMs.push(performance.now() - s);
        else failed++;
      },
      () => {
        failed++;
      },
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      agent.destroy();
      return { latenciesMs, failed };
    },
  };
}
