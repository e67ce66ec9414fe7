import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, startServer } from '../helpers/mailca.ts';

type Server = Awaited<ReturnType<typeof startServer>>;
let srv: Server;
let dir: string;
let admin: HttpClient;
let mta: HttpClient;
let alice: HttpClient;

beforeAll(async () => {
  srv = await startServer({ publicUrl: 'https://mailca.example.test' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-enf-'));
  for (const u of ['alice', 'bob', 'carol']) await addTestUser(srv.m, `${u}@example.test`);
  admin = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'admin')}` });
  mta = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'mta')}` });
  alice = new HttpClient(srv.url);
  await alice.login('alice@example.test');
});
afterAll(async () => {
  await srv?.stop();
});

// Changes publish coalesced, just after the response: wait for this instance's publish to finish.
const published = async (f: string) => {
  await srv.m.publisher.settled();
  return readFileSync(path.join(srv.db.dataDir, 'publish', f), 'utf8');
};

describe('per-user enforcement', () => {
  it('starts everyone in grace with empty maps; readiness counts who is left', async () => {
    expect((await mta.get('/api/v1/enforcement?format=postfix')).text).not.toMatch(/REJECT/);
    const r = await admin.get('/api/v1/readiness');
    expect(r.json).toMatchObject({ users_total: 3, enrolled: 0, enforced: 0, grace: 3 });
    expect(r.json.not_enrolled).toEqual(['alice@example.test', 'bob@example.test', 'carol@example.test']);
  });

  it('enforces one user: the maps name them with the enrol message, at once', async () => {
    const { csrPem } = opensslCsr(dir, 'alice');
    expect((await alice.post('/api/v1/enrol', { csr: csrPem })).status).toBe(201);
    const set = await admin.post('/api/v1/users/alice@example.test/enforcement', { state: 'enforced' });
    expect(set.status).toBe(200);
    expect(set.json.user).toMatchObject({ email: 'alice@example.test', state: 'enforced', basis: 'override', enrolled: true });
    const line = 'alice@example.test REJECT 5.7.1 client certificate required - enrol at https://mailca.example.test/';
    expect(await published('enforcement.postfix')).toContain(line);
    expect(await published('enforcement.exim')).toContain('alice@example.test: enforced');
    expect((await mta.get('/api/v1/enforcement?format=postfix')).text).toContain(line);
    expect((await mta.get('/api/v1/enforcement?format=exim')).text).toContain('alice@example.test: enforced');
    expect(await published('enforcement.postfix')).not.toContain('bob@');
    const r = await admin.get('/api/v1/readiness');
    expect(r.json).toMatchObject({ users_total: 3, enrolled: 1, enforced: 1, grace: 2, enrolled_percent: 33.3 });
  });

  it('refuses bad input and non-admins', async () => {
    expect((await admin.post('/api/v1/users/alice@example.test/enforcement', { state: 'maybe' })).status).toBe(400);
    expect((await admin.post('/api/v1/users/zed@example.test/enforcement', { state: 'enforced' })).status).toBe(404);
    expect((await admin.request('PUT', '/api/v1/enforcement/policy', { deadline: 'soon' })).status).toBe(400);
    expect((await mta.get('/api/v1/readiness')).status).toBe(403);
    expect((await alice.post('/api/v1/enforcement/all', { state: 'enforced' })).status).toBe(403);
    expect((await mta.get('/api/v1/enforcement?format=sendmail')).status).toBe(400);
  });

  it('schedules: N days after first enrolment, and a global deadline, applied as the clock passes', async () => {
    await admin.post('/api/v1/users/alice@example.test/enforcement', { state: 'default' });
    const policy = await admin.request('PUT', '/api/v1/enforcement/policy', { after_first_enrolment_days: 7, deadline: new Date(srv.clock.now().getTime() + 30 * DAY_MS).toISOString() });
    expect(policy.status).toBe(200);
    expect(await published('enforcement.postfix')).not.toContain('alice@');
    // The scheduler's next boundary is alice's enforcement date.
    const due = await srv.m.publisher.nextDue();
    expect(due!.getTime()).toBeLessThanOrEqual(srv.clock.now().getTime() + 7 * DAY_MS);
    srv.clock.advance(7 * DAY_MS + 1000);
    await srv.m.publisher.publish();
    expect(await published('enforcement.postfix')).toContain('alice@example.test REJECT');
    expect(await published('enforcement.postfix')).not.toContain('bob@');
    srv.clock.advance(30 * DAY_MS);
    await srv.m.publisher.publish();
    for (const u of ['alice', 'bob', 'carol']) expect(await published('enforcement.exim')).toContain(`${u}@example.test: enforced`);
    // An explicit grace exempts a user even past the deadline; --all resets everyone to the schedule.
    await admin.post('/api/v1/users/carol@example.test/enforcement', { state: 'grace' });
    expect(await published('enforcement.exim')).not.toContain('carol@');
    const all = await admin.post('/api/v1/enforcement/all', { state: 'default' });
    expect(all.json.users_changed).toBe(3);
    expect(await published('enforcement.exim')).toContain('carol@example.test: enforced');
  });
});

describe('long poll', () => {
  it('holds ?wait= until the list changes, then answers at once', async () => {
    const first = await mta.get('/api/v1/allowlist?format=postfix');
    const etag = first.headers.get('etag')!;
    const t0 = Date.now();
    const waiting = mta.get('/api/v1/allowlist?format=postfix&wait=20', { 'if-none-match': etag });
    await new Promise((r) => setTimeout(r, 300));
    const bob = new HttpClient(srv.url);
    await bob.login('bob@example.test');
    const { csrPem } = opensslCsr(dir, 'bob');
    const enrolled = await bob.post('/api/v1/enrol', { csr: csrPem });
    expect(enrolled.status).toBe(201);
    const changed = await waiting;
    const took = Date.now() - t0;
    expect(changed.status).toBe(200);
    expect(changed.text).toContain(enrolled.json.fingerprint_sha256 as string);
    expect(took).toBeLessThan(5000);
    console.log(`long poll answered ${took} ms after it started (change made at ~300 ms)`);
  });

  it('returns 304 when the wait ends without a change', async () => {
    const first = await mta.get('/api/v1/allowlist?format=exim');
    const res = await mta.get('/api/v1/allowlist?format=exim&wait=1', { 'if-none-match': first.headers.get('etag')! });
    expect(res.status).toBe(304);
    expect((await mta.get('/api/v1/allowlist?format=exim&wait=-1')).status).toBe(400);
  });
});

describe('metrics and CAs', () => {
  it('exposes Prometheus metrics to mta/admin tokens and the CA list to admins', async () => {
    const m = await mta.get('/api/v1/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toMatch(/^mailca_ca_not_after_seconds\{ca="\d+",state="active"\} \d+$/m);
    expect(m.text).toMatch(/^mailca_certificates_active \d+$/m);
    expect(m.text).toMatch(/^mailca_users\{state="total"\} 3$/m);
    expect((await new HttpClient(srv.url).get('/api/v1/metrics')).status).toBe(401);
    const cas = await admin.get('/api/v1/cas');
    expect(cas.json.cas).toEqual([expect.objectContaining({ state: 'active', key_algorithm: 'P-256', cross_certificate: null })]);
    expect((await mta.get('/api/v1/cas')).status).toBe(403);
  });
});
