import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestToken, addTestUser, HttpClient, opensslCsr, startServer } from '../helpers/mailca.ts';

type Server = Awaited<ReturnType<typeof startServer>>;
let srv: Server;
let admin: HttpClient;

beforeAll(async () => {
  srv = await startServer();
  admin = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'admin')}` });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-migration-'));
  for (const email of ['ann@example.test', 'ben@example.test', 'cat@example.test']) await addTestUser(srv.m, email);
  for (const email of ['ann@example.test', 'ben@example.test']) {
    const c = new HttpClient(srv.url);
    expect((await c.login(email)).status).toBe(200);
    srv.clock.advance(24 * 3_600_000);
    expect((await c.post('/api/v1/enrol', { csr: opensslCsr(dir, email).csrPem })).status).toBe(201);
  }
});
afterAll(async () => {
  await srv?.stop();
});

describe('migration API', () => {
  it('counts users enrolled by each day', async () => {
    const h = await admin.get('/api/v1/readiness/history?days=4');
    expect(h.status).toBe(200);
    expect(h.json.users_total).toBe(3);
    expect((h.json.days as { enrolled: number }[]).map((d) => d.enrolled)).toEqual([0, 0, 1, 2]);
    expect((await admin.get('/api/v1/readiness/history?days=0')).status).toBe(400);
  });

  it('enforces all enrolled users still in grace, and only them', async () => {
    const r = await admin.post('/api/v1/enforcement/enrolled', {});
    expect(r.json).toEqual({ users_changed: 2 });
    const readiness = await admin.get('/api/v1/readiness');
    expect(readiness.json).toMatchObject({ enforced: 2, grace: 1, ready_to_enforce: [], enforced_without_certificate: [] });
    expect((await admin.post('/api/v1/enforcement/enrolled', {})).json).toEqual({ users_changed: 0 });
    const events = await admin.get('/api/v1/audit?action=enforcement.enrolled');
    expect((events.json.events as { details: unknown }[])[0]!.details).toEqual({ state: 'enforced', users: 0 });
  });
});
