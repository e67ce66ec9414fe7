import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol } from '../../src/enrolment/enrol.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, startServer, testActor } from '../helpers/mailca.ts';

type Srv = Awaited<ReturnType<typeof startServer>>;
let srv: Srv;
let mta: HttpClient;
let many: Srv;
let manyMta: HttpClient;

beforeAll(async () => {
  srv = await startServer({ maxLongPolls: 2 });
  mta = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'mta')}` });
  many = await startServer({ maxLongPolls: 500 });
  manyMta = new HttpClient(many.url, { authorization: `Bearer ${await addTestToken(many.m, 'mta')}` });
});
afterAll(async () => {
  await srv?.stop();
  await many?.stop();
});

describe('long polls', () => {
  it('holds at most MAILCA_MAX_LONG_POLLS requests, refuses more with 503 and Retry-After, and wakes all waiters with the new list', async () => {
    const etag = (await mta.get('/api/v1/allowlist?format=exim')).headers.get('etag')!;
    const waiting = [1, 2].map(() => mta.get('/api/v1/allowlist?format=exim&wait=30', { 'if-none-match': etag }));
    await new Promise((r) => setTimeout(r, 200));
    const refused = await mta.get('/api/v1/allowlist?format=exim&wait=30', { 'if-none-match': etag });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.json.error).toBe('too_many_waiting');
    // A request that does not wait is still answered.
    expect((await mta.get('/api/v1/allowlist?format=exim', { 'if-none-match': etag })).status).toBe(304);

    const user = await addTestUser(srv.m, 'poll@example.test');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-poll-'));
    const cert = (await enrol(srv.m.ctx, testActor, { user, csr: opensslCsr(dir, 'poll').csrPem })).record;
    for (const r of await Promise.all(waiting)) {
      expect(r.status).toBe(200);
      expect(r.text).toContain(`${cert.fingerprintSha256.toUpperCase()}: poll@example.test`);
      expect(r.headers.get('etag')).not.toBe(etag);
    }
    // The slots are free again.
    const next = mta.get('/api/v1/allowlist?format=exim&wait=1', { 'if-none-match': (await mta.get('/api/v1/allowlist?format=exim')).headers.get('etag')! });
    expect((await next).status).toBe(304);
  });

  it('wakes hundreds of waiters (many wake batches), and each gets the whole new list, as a plain GET does', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-poll-'));
    for (let i = 0; i < 10; i++) {
      const user = await addTestUser(many.m, `many${i}@example.test`);
      await enrol(many.m.ctx, testActor, { user, csr: opensslCsr(dir, `many${i}`).csrPem });
    }
    const etag = (await manyMta.get('/api/v1/allowlist?format=json')).headers.get('etag')!;
    const waiting = Array.from({ length: 300 }, () => manyMta.get('/api/v1/allowlist?format=json&wait=30', { 'if-none-match': etag }));
    await new Promise((r) => setTimeout(r, 500));
    const user = await addTestUser(many.m, 'woken@example.test');
    const cert = (await enrol(many.m.ctx, testActor, { user, csr: opensslCsr(dir, 'woken').csrPem })).record;
    const answers = await Promise.all(waiting);
    const plain = await manyMta.get('/api/v1/allowlist?format=json');
    expect(plain.text).toContain(cert.fingerprintSha256);
    for (const r of answers) {
      expect(r.status).toBe(200);
      expect(r.headers.get('etag')).toBe(plain.headers.get('etag'));
      expect(r.text).toBe(plain.text);
    }
  });
});
