import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestToken, addTestUser, HttpClient, startServer } from '../helpers/mailca.ts';

// The pull endpoints skip the session middleware for bearer-token requests (src/http/app.ts): the
// token alone decides, and everything else keeps its session.

let srv: Awaited<ReturnType<typeof startServer>>;
let mtaToken: string;
beforeAll(async () => {
  srv = await startServer();
  mtaToken = await addTestToken(srv.m, 'mta');
  await addTestUser(srv.m, 'pull-admin@example.test', { admin: true });
  await addTestUser(srv.m, 'pull-user@example.test');
});
afterAll(async () => {
  await srv?.stop();
});

describe('who may pull the lists', () => {
  it('a bearer token pulls and re-checks the lists without a session', async () => {
    const mta = new HttpClient(srv.url, { authorization: `Bearer ${mtaToken}` });
    for (const p of ['/api/v1/allowlist?format=postfix', '/api/v1/enforcement?format=postfix', '/api/v1/senders?format=postfix', '/api/v1/metrics']) {
      const res = await mta.get(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('set-cookie'), p).toBeNull();
    }
    const list = await mta.get('/api/v1/allowlist?format=json');
    expect((await mta.get('/api/v1/allowlist?format=json', { 'if-none-match': String(list.headers.get('etag')) })).status).toBe(304);
  });

  it('a bad bearer token is refused even next to a signed-in admin’s session', async () => {
    const admin = new HttpClient(srv.url);
    expect((await admin.login('pull-admin@example.test')).status).toBe(200);
    expect((await admin.get('/api/v1/allowlist')).status).toBe(200); // the admin's session alone
    const res = await admin.get('/api/v1/allowlist', { authorization: 'Bearer mca_not-a-token' });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_token');
  });

  it('a signed-in user who is not an admin may not pull; a token is not a user elsewhere', async () => {
    const user = new HttpClient(srv.url);
    expect((await user.login('pull-user@example.test')).status).toBe(200);
    expect((await user.get('/api/v1/allowlist')).status).toBe(403);
    const mta = new HttpClient(srv.url, { authorization: `Bearer ${mtaToken}` });
    const me = await mta.get('/api/v1/me');
    expect(me.status).toBe(403);
    expect(me.json.error).toBe('user_required');
  });
});
