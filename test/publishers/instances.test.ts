import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { serve, type RunningServer } from '../../src/main.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, PASSWORD, testActor, testConfig } from '../helpers/mailca.ts';

// The operator's guarantee: after a revoke response, every list an MTA can read — the published
// files and the long polls of every instance — drops the certificate within one second.
const GUARANTEE_MS = 1_000;
const BIN = path.resolve(import.meta.dirname, '../../bin/mailca.mjs');
const postgres = process.env.MAILCA_TEST_DB === 'postgres';

let db: TestDatabase;
let a: RunningServer;
let dir: string;

async function startInstance(dataDir?: string): Promise<RunningServer> {
  return serve(testConfig(db, dataDir ? { dataDir, publicUrl: 'https://mailca.example.test' } : { publicUrl: 'https://mailca.example.test' }), {
    clock: new ManualClock(),
    log: pino({ level: 'silent' }),
    scheduler: false,
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-instances-'));
  a = await startInstance();
});
afterAll(async () => {
  await a?.stop();
  await db?.drop();
});

/** Polls until `check` holds, or fails after `ms`; returns how long it took. */
async function within(ms: number, what: string, check: () => boolean): Promise<number> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - t0;
}

const fileOf = (s: RunningServer, name = 'allowlist.postfix') => readFileSync(path.join(s.mailca.config.dataDir, 'publish', name), 'utf8');

async function enrolled(email: string) {
  const user = await addTestUser(a.mailca, email);
  const { csrPem } = opensslCsr(dir, email);
  return (await enrol(a.mailca.ctx, testActor, { user, csr: csrPem })).record;
}

/** Starts a long poll on `s` and resolves with its answer and when it came. */
async function longPoll(s: RunningServer, token: string) {
  const mta = new HttpClient(s.url, { authorization: `Bearer ${token}` });
  const first = await mta.get('/api/v1/allowlist?format=postfix');
  const etag = first.headers.get('etag')!;
  const answer = mta.get('/api/v1/allowlist?format=postfix&wait=25', { 'if-none-match': etag }).then((r) => ({ ...r, at: performance.now() }));
  return { first, answer };
}

describe('one CA, every instance', () => {
  it('a revocation made by the CLI next to a running server reaches its files and long polls within 1 s', async () => {
    const cert = await enrolled('cli@example.test');
    const colon = cert.fingerprintSha256.toUpperCase().match(/../g)!.join(':');
    await within(GUARANTEE_MS, 'listed', () => fileOf(a).includes(colon));
    const token = await addTestToken(a.mailca, 'mta', 'cli-poll');
    const { first, answer } = await longPoll(a, token);
    expect(first.text).toContain(colon);

    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', MAILCA_DATA_DIR: a.mailca.config.dataDir, MAILCA_LOG_LEVEL: 'warn', MAILCA_CA_PASSPHRASE: 'test passphrase for the CA key' };
    if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
    const done = await new Promise<number>((resolve, reject) =>
      execFile(process.execPath, [BIN, 'revoke', cert.serial, '--reason', 'keyCompromise'], { env }, (err, _out, stderr) => (err ? reject(new Error(stderr)) : resolve(performance.now()))),
    );
    const r = await answer;
    expect(r.status).toBe(200);
    expect(r.text).not.toContain(colon);
    expect(r.at - done).toBeLessThan(GUARANTEE_MS);
    await within(GUARANTEE_MS, 'file updated', () => !fileOf(a).includes(colon));
  });

  it.runIf(postgres)('two instances on one PostgreSQL database: a revocation on one reaches the other’s files and long polls within 1 s; sessions work on both', async () => {
    const b = await startInstance(mkdtempSync(path.join(os.tmpdir(), 'mailca-instance-b-')));
    try {
      const cert = await enrolled('two@example.test');
      const colon = cert.fingerprintSha256.toUpperCase().match(/../g)!.join(':');
      await within(3 * GUARANTEE_MS, 'listed on B', () => fileOf(b).includes(colon));
      const token = await addTestToken(a.mailca, 'mta', 'b-poll');
      const { first, answer } = await longPoll(b, token);
      expect(first.text).toContain(colon);

      const admin = new HttpClient(a.url, { authorization: `Bearer ${await addTestToken(a.mailca, 'admin', 'a-admin')}` });
      const revoked = await admin.post(`/api/v1/certificates/${cert.serial}/revoke`, { reason: 'unspecified' });
      const at = performance.now();
      expect(revoked.status).toBe(200);
      const r = await answer;
      expect(r.text).not.toContain(colon);
      expect(r.at - at).toBeLessThan(GUARANTEE_MS);
      await within(GUARANTEE_MS, 'B file updated', () => !fileOf(b).includes(colon));
      expect(fileOf(a)).not.toContain(colon);

      // The session secret lives in the database: a cookie from A is good on B.
      const user = new HttpClient(a.url);
      expect((await user.login('two@example.test', PASSWORD)).status).toBe(200);
      expect((await user.at(b.url).get('/api/v1/me')).status).toBe(200);
    } finally {
      await b.stop();
    }
  });

  it.runIf(postgres)('two instances started at once on an empty PostgreSQL database both come up, with one CA', async () => {
    const empty = await createTestDatabase();
    try {
      const config = (d: string) => testConfig(empty, { dataDir: d });
      const opts = { clock: new ManualClock(), log: pino({ level: 'silent' }), scheduler: false };
      const [x, y] = await Promise.all([serve(config(mkdtempSync(path.join(os.tmpdir(), 'mailca-x-'))), opts), serve(config(mkdtempSync(path.join(os.tmpdir(), 'mailca-y-'))), opts)]);
      try {
        expect((await x.mailca.store.cas.list()).length).toBe(1);
        expect(readFileSync(path.join(x.mailca.config.dataDir, 'publish', 'ca.pem'), 'utf8')).toBe(readFileSync(path.join(y.mailca.config.dataDir, 'publish', 'ca.pem'), 'utf8'));
        for (const s of [x, y]) expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      } finally {
        await x.stop();
        await y.stop();
      }
    } finally {
      await empty.drop();
    }
  });
});
