// 3. Revocation → list propagation: after the revoke response, how long until (a) the published
// `publish/allowlist.postfix` no longer lists the certificate and (b) a long-poll that was waiting
// (GET /api/v1/allowlist?format=postfix&wait=25 with If-None-Match) returns a list without it.
// On one SQLite instance with 10,000 active certificates, and across two instances sharing one
// PostgreSQL database (revoked on A; B's files and B's long-poll watched).

import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchContext, Measurement } from './lib/context.ts';
import { createBenchDatabase } from './lib/database.ts';
import { httpRequest, keepAliveAgent, percentile } from './lib/http.ts';
import { expectStatus, prepareCa, revokeOverHttp, signIn } from './lib/instance.ts';
import { errorText, notAvailable, row, type Row } from './lib/report.ts';
import { createSeededCa } from './lib/seeded.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';
import { csrPool } from './lib/csr.ts';

const M = 'propagation';
const GIVE_UP_MS = 5_000;
const TARGET_MS = 1_000;

const colonUpper = (hex: string) => (hex.toUpperCase().match(/../g) ?? []).join(':');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LIST = '/api/v1/allowlist?format=postfix';

interface Watched {
  /** Where MTAs read: the instance's URL and its publish/ directory. */
  url: string;
  publishDir: string;
}

interface Samples {
  file: number[];
  poll: number[];
  lost: { file: number; poll: number };
}

/** One revocation on `writer`, watched on `reader`; times in ms after the revoke response. */
async function measureOne(agent: http.Agent, writer: string, reader: Watched, tokens: { admin: string; mta: string }, target: { serial: string; fingerprintSha256: string }, samples: Samples): Promise<void> {
  const line = `${colonUpper(target.fingerprintSha256)} OK`;
  const mta = { authorization: `Bearer ${tokens.mta}` };
  const current = await httpRequest(agent, reader.url, { path: LIST, headers: mta });
  const etag = current.headers.etag;
  if (current.status !== 200 || !etag) throw new Error(`GET ${LIST}: HTTP ${current.status}`);
  if (!current.body.includes(line)) throw new Error(`certificate ${target.serial} is not on the allow-list before its revocation`);
  let revokedAt = Number.POSITIVE_INFINITY;
  // (b) A long-poll waiting for the next change; asked again if it wakes for something else.
  const longPoll = (async () => {
    let tag = etag;
    for (;;) {
      const res = await httpRequest(agent, reader.url, { path: `${LIST}&wait=25`, headers: { ...mta, 'if-none-match': tag }, timeoutMs: 30_000 }).catch(() => undefined);
      const at = performance.now();
      if (res?.status === 200 && !res.body.includes(line)) return at;
      if (!res || at - revokedAt > GIVE_UP_MS) return undefined;
      tag = res.headers.etag ?? tag;
    }
  })();
  await sleep(50); // let the server park the long-poll
  const error = await revokeOverHttp(agent, writer, tokens.admin, target.serial);
  revokedAt = performance.now();
  if (error) throw new Error(`revoke: ${error}`);
  // (a) The published file, re-read every 2 ms.
  const file = path.join(reader.publishDir, 'allowlist.postfix');
  const fileSeen = (async () => {
    while (performance.now() - revokedAt < GIVE_UP_MS) {
      const text = await readFile(file, 'utf8').catch(() => '');
      if (text && !text.includes(line)) return performance.now();
      await sleep(2);
    }
    return undefined;
  })();
  const [fileAt, pollAt] = await Promise.all([fileSeen, Promise.race([longPoll, sleep(GIVE_UP_MS + 1000).then(() => undefined)])]);
  if (fileAt === undefined) samples.lost.file++;
  else samples.file.push(Math.max(0, fileAt - revokedAt));
  if (pollAt === undefined) samples.lost.poll++;
  else samples.poll.push(Math.max(0, pollAt - revokedAt));
}

function rowsFor(where: string, samples: Samples, context: string): Row[] {
  const rows: Row[] = [];
  for (const [what, values, lost] of [
    ['publish/allowlist.postfix', samples.file, samples.lost.file],
    ['waiting long-poll', samples.poll, samples.lost.poll],
  ] as const) {
    // A revocation never seen counts as the give-up time (so the figure is a lower bound).
    const all = [...values, ...Array<number>(lost).fill(GIVE_UP_MS)];
    const note = `${all.length} revocations, ${context}${lost ? `; ${lost} not seen within ${GIVE_UP_MS / 1000} s (counted as ${GIVE_UP_MS / 1000} s)` : ''}`;
    rows.push(row({ measurement: M, figure: `revoke response → ${where}${what}, p50`, value: percentile(all, 50), unit: 'ms', note }));
    rows.push(row({ measurement: M, figure: `revoke response → ${where}${what}, p99`, value: percentile(all, 99), unit: 'ms', target: { kind: 'at-most', limit: TARGET_MS }, note }));
  }
  return rows;
}

const figuresFor = (where: string) => ['publish/allowlist.postfix', 'waiting long-poll'].flatMap((what) => ['p50', 'p99'].map((p) => `revoke response → ${where}${what}, ${p}`));
const emptySamples = (): Samples => ({ file: [], poll: [], lost: { file: 0, poll: 0 } });
const stuck = (s: Samples, revocations: number) => (revocations >= 2 && s.lost.file + s.lost.poll >= revocations) || s.lost.file + s.lost.poll >= 6;

async function oneInstance(ctx: BenchContext, plan: { active: number; revocations: number }): Promise<Row[]> {
  const samples = emptySamples();
  const ca = await createSeededCa(ctx, { users: 1 });
  try {
    const { kept } = ca.seed({ active: plan.active, keep: plan.revocations });
    const server = await startServerProcess(benchConfig(ca.db));
    try {
      const agent = keepAliveAgent(4);
      const reader = { url: server.url, publishDir: path.join(ca.db.dataDir, 'publish') };
      for (const [i, target] of kept.entries()) {
        await measureOne(agent, server.url, reader, { admin: ca.ca.adminToken, mta: ca.ca.mtaToken }, target, samples);
        if (stuck(samples, i + 1)) break; // not propagating: do not spend minutes proving it
      }
      agent.destroy();
    } finally {
      await server.stop();
    }
  } finally {
    await ca.drop();
  }
  return rowsFor('', samples, `SQLite, one instance, ${plan.active.toLocaleString('en-US')} active`);
}

async function twoInstances(ctx: BenchContext, plan: { revocations: number }): Promise<Row[]> {
  const samples = emptySamples();
  const db = await createBenchDatabase('postgres');
  const dirB = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-b-'));
  try {
    const ca = await prepareCa(db, { users: 1 });
    const a = await startServerProcess(benchConfig(db));
    try {
      const agent = keepAliveAgent(4);
      // The certificates exist before B starts, so B's first publish lists them.
      const cookie = await signIn(agent, a.url, ca.userEmails[0]!);
      const targets: { serial: string; fingerprintSha256: string }[] = [];
      for (const csr of csrPool(plan.revocations)) {
        const res = await httpRequest(agent, a.url, { method: 'POST', path: '/api/v1/enrol', headers: { cookie }, body: { csr } });
        const error = expectStatus(res, 201);
        if (error) throw new Error(`enrol on A: ${error}`);
        const body = JSON.parse(res.body) as { serial: string; fingerprint_sha256: string };
        targets.push({ serial: body.serial, fingerprintSha256: body.fingerprint_sha256.replace(/:/g, '').toLowerCase() });
      }
      const b = await startServerProcess(benchConfig(db, { dataDir: dirB }));
      try {
        ctx.progress(`two instances on PostgreSQL: A ${a.url}, B ${b.url}`);
        for (const [i, target] of targets.entries()) {
          await measureOne(agent, a.url, { url: b.url, publishDir: path.join(dirB, 'publish') }, { admin: ca.adminToken, mta: ca.mtaToken }, target, samples);
          if (stuck(samples, i + 1)) break;
        }
      } finally {
        await b.stop();
      }
      agent.destroy();
    } finally {
      await a.stop();
    }
  } finally {
    rmSync(dirB, { recursive: true, force: true });
    await db.drop();
  }
  return rowsFor('instance B ', samples, `PostgreSQL, revoked on instance A, read on instance B`);
}

export const propagation: Measurement = {
  id: M,
  title: 'revocation → allow-list propagation',
  async run(ctx) {
    const plan = ctx.quick ? { active: 300, revocations: 5 } : { active: 10_000, revocations: 40 };
    const rows: Row[] = [];
    try {
      rows.push(...(await oneInstance(ctx, plan)));
    } catch (e) {
      rows.push(...figuresFor('').map((f) => notAvailable(M, f, errorText(e))));
    }
    try {
      rows.push(...(await twoInstances(ctx, { revocations: ctx.quick ? 3 : 30 })));
    } catch (e) {
      rows.push(...figuresFor('instance B ').map((f) => notAvailable(M, f, errorText(e))));
    }
    return rows;
  },
};
