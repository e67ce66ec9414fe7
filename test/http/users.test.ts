import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importUsers } from '../../src/enrolment/user-import.ts';
import { addTestToken, addTestUser, HttpClient, PASSWORD, startServer, testActor } from '../helpers/mailca.ts';

type Server = Awaited<ReturnType<typeof startServer>>;
let srv: Server;
let adminToken: string;

beforeAll(async () => {
  // Behind one trusted proxy: X-Forwarded-For names the client address.
  srv = await startServer({ trustProxy: true });
  adminToken = await addTestToken(srv.m, 'admin');
});
afterAll(async () => {
  await srv?.stop();
});

const admin = () => new HttpClient(srv.url, { authorization: `Bearer ${adminToken}` });
const from = (ip: string) => new HttpClient(srv.url, { 'x-forwarded-for': ip });

describe('sign-in limits over HTTP', () => {
  it('guesses from address A do not stop the owner signing in from address B; an admin unlock clears A', async () => {
    await addTestUser(srv.m, 'owner@example.test');
    const guesser = from('203.0.113.5');
    for (let i = 0; i < 5; i++) expect((await guesser.login('owner@example.test', `guess-${i}`)).status).toBe(401);
    const limited = await guesser.login('owner@example.test');
    expect(limited.status).toBe(429);
    expect(limited.json.error).toBe('too_many_attempts');
    expect((await from('198.51.100.20').login('owner@example.test')).status).toBe(200);
    expect((await admin().post('/api/v1/users/owner@example.test/unlock', {})).json).toMatchObject({ unlocked: true });
    expect((await guesser.login('owner@example.test')).status).toBe(200);
  });
});

describe('password lifecycle over HTTP', () => {
  it('a signed-in user changes their own password with the current one', async () => {
    await addTestUser(srv.m, 'changer@example.test');
    const c = new HttpClient(srv.url);
    expect((await c.login('changer@example.test')).status).toBe(200);
    const wrong = await c.post('/api/v1/me/password', { current_password: 'not it at all', new_password: 'a brand new password' });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error).toBe('wrong_password');
    expect((await c.post('/api/v1/me/password', { current_password: PASSWORD, new_password: 'two\nlines here' })).status).toBe(400);
    expect((await c.post('/api/v1/me/password', { current_password: PASSWORD, new_password: 'a brand new password' })).json).toEqual({ changed: true });
    // This session stays; the old password no longer works.
    expect((await c.get('/api/v1/me')).status).toBe(200);
    expect((await new HttpClient(srv.url).login('changer@example.test')).status).toBe(401);
    expect((await new HttpClient(srv.url).login('changer@example.test', 'a brand new password')).status).toBe(200);
    expect((await admin().post('/api/v1/me/password', { current_password: 'x', new_password: 'y' })).status).toBe(403);
  });

  it("an admin reset returns a generated password once and ends the user's sessions", async () => {
    await addTestUser(srv.m, 'forgetful@example.test');
    const c = new HttpClient(srv.url);
    expect((await c.login('forgetful@example.test')).status).toBe(200);
    expect((await c.get('/api/v1/me')).status).toBe(200);
    const reset = await admin().post('/api/v1/users/forgetful@example.test/password', {});
    expect(reset.status).toBe(200);
    expect(reset.json).toMatchObject({ user: { email: 'forgetful@example.test' }, ended_sessions: 1 });
    const generated = reset.json.generated_password as string;
    expect(generated).toMatch(/^[A-Za-z0-9]{20}$/);
    expect((await c.get('/api/v1/me')).status).toBe(401);
    expect((await new HttpClient(srv.url).login('forgetful@example.test', generated)).status).toBe(200);
    const chosen = await admin().post('/api/v1/users/forgetful@example.test/password', { password: 'chosen by the admin' });
    expect(chosen.json.generated_password).toBeUndefined();
    expect((await admin().post('/api/v1/users/forgetful@example.test/password', { password: 'short' })).status).toBe(400);
    expect((await admin().post('/api/v1/users/nobody@example.test/password', {})).status).toBe(404);
    const user = new HttpClient(srv.url);
    await user.login('forgetful@example.test', 'chosen by the admin');
    expect((await user.post('/api/v1/users/forgetful@example.test/password', {})).status).toBe(403);
  });

  it('an admin re-enables a disabled user', async () => {
    await addTestUser(srv.m, 'returning@example.test');
    expect((await admin().post('/api/v1/users/returning@example.test/disable', {})).status).toBe(200);
    expect((await new HttpClient(srv.url).login('returning@example.test')).status).toBe(401);
    const enabled = await admin().post('/api/v1/users/returning@example.test/enable', {});
    expect(enabled.json).toMatchObject({ user: { email: 'returning@example.test', disabled_at: null } });
    expect((await new HttpClient(srv.url).login('returning@example.test')).status).toBe(200);
  });
});

describe('GET /users', () => {
  it('pages, searches by the start of an address and shows each user\'s enforcement state', async () => {
    await importUsers(srv.m.ctx, testActor, 'email,name,admin,aliases\n' + Array.from({ length: 30 }, (_, i) => `page${String(i).padStart(2, '0')}@example.test,P ${i},no,${i === 0 ? 'alias0@example.test' : ''}`).join('\n'));
    await expect((await admin().post('/api/v1/users/page01@example.test/enforcement', { state: 'enforced' })).status).toBe(200);
    const first = await admin().get('/api/v1/users?q=PAGE&limit=10&offset=0');
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ total: 30, limit: 10, offset: 0 });
    const users = first.json.users as Record<string, unknown>[];
    expect(users).toHaveLength(10);
    expect(users[0]).toMatchObject({ email: 'page00@example.test', name: 'P 0', admin: false, aliases: ['alias0@example.test'], enforcement: 'grace', active_certificates: 0, disabled_at: null });
    expect(users[1]).toMatchObject({ email: 'page01@example.test', enforcement: 'enforced' });
    const last = await admin().get('/api/v1/users?q=page&limit=10&offset=25');
    expect((last.json.users as unknown[]).length).toBe(5);
    expect((await admin().get('/api/v1/users?limit=0')).status).toBe(400);
    expect((await admin().get('/api/v1/users?limit=10000')).status).toBe(400);
    const all = await admin().get('/api/v1/users');
    expect(all.json.limit).toBe(50);
  });
});

describe('tokens', () => {
  it('refuses a second active token of the same name with 409', async () => {
    expect((await admin().post('/api/v1/tokens', { role: 'mta', name: 'mx-dup' })).status).toBe(201);
    const again = await admin().post('/api/v1/tokens', { role: 'admin', name: 'mx-dup' });
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('token_exists');
    expect((await admin().post('/api/v1/tokens/mx-dup/revoke', {})).json.revoked).toBe(1);
    expect((await admin().post('/api/v1/tokens', { role: 'mta', name: 'mx-dup' })).status).toBe(201);
  });
});
