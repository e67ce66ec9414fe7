import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestToken, addTestUser, HttpClient, startServer } from '../helpers/mailca.ts';

let srv: Awaited<ReturnType<typeof startServer>>;
let admin: HttpClient;
let mta: HttpClient;
let alice: HttpClient;

beforeAll(async () => {
  srv = await startServer();
  await addTestUser(srv.m, 'alice@example.test');
  await addTestUser(srv.m, 'bob@example.test');
  await addTestUser(srv.m, 'root@example.test', { admin: true });
  admin = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'admin')}` });
  mta = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'mta')}` });
  alice = new HttpClient(srv.url);
  expect((await alice.login('alice@example.test')).status).toBe(200);
});
afterAll(async () => {
  await srv?.stop();
});

const aliasesOf = (email: string) => `/api/v1/users/${encodeURIComponent(email)}/aliases`;

describe('sender aliases API', () => {
  it('adds (201), lists and removes (204) aliases; GET /users shows them', async () => {
    const added = await admin.post(aliasesOf('Alice@example.test'), { alias: 'PostMaster@Example.test' });
    expect(added.status, added.text).toBe(201);
    expect(added.json).toEqual({ email: 'alice@example.test', alias: 'postmaster@example.test', aliases: ['postmaster@example.test'] });
    expect((await admin.post(aliasesOf('alice@example.test'), { alias: 'abuse@example.test' })).status).toBe(201);

    const listed = await admin.get(aliasesOf('alice@example.test'));
    expect(listed.status).toBe(200);
    expect(listed.json).toEqual({ aliases: ['abuse@example.test', 'postmaster@example.test'] });
    const users = (await admin.get('/api/v1/users')).json.users as { email: string; aliases: string[] }[];
    expect(users.find((u) => u.email === 'alice@example.test')?.aliases).toEqual(['abuse@example.test', 'postmaster@example.test']);
    expect(users.find((u) => u.email === 'bob@example.test')?.aliases).toEqual([]);

    const removed = await admin.request('DELETE', `${aliasesOf('alice@example.test')}/${encodeURIComponent('ABUSE@example.test')}`);
    expect(removed.status, removed.text).toBe(204);
    expect(removed.text).toBe('');
    expect((await admin.get(aliasesOf('alice@example.test'))).json).toEqual({ aliases: ['postmaster@example.test'] });

    const audit = (await admin.get('/api/v1/audit?target=alice@example.test')).json.events as { action: string; actor: string; details: unknown }[];
    expect(audit.slice(0, 3).map((e) => [e.action, e.actor, e.details])).toEqual([
      ['user.alias.remove', 'token:admin-token', { alias: 'abuse@example.test' }],
      ['user.alias.add', 'token:admin-token', { alias: 'abuse@example.test' }],
      ['user.alias.add', 'token:admin-token', { alias: 'postmaster@example.test' }],
    ]);
  });

  it('an admin user (session) may manage aliases too', async () => {
    const root = new HttpClient(srv.url);
    expect((await root.login('root@example.test')).status).toBe(200);
    expect((await root.post(aliasesOf('bob@example.test'), { alias: 'sales@example.test' })).status).toBe(201);
    expect((await root.request('DELETE', `${aliasesOf('bob@example.test')}/sales@example.test`)).status).toBe(204);
  });

  it('answers bad input 400, unknown 404, taken 409', async () => {
    const cases: [string, Promise<{ status: number; json: Record<string, unknown> }>, number, string][] = [
      ['bad alias', admin.post(aliasesOf('alice@example.test'), { alias: 'not an address' }), 400, 'invalid_alias'],
      ['missing alias', admin.post(aliasesOf('alice@example.test'), {}), 400, 'invalid_alias'],
      ['bad user address', admin.get(aliasesOf('not-an-address')), 400, 'invalid_email'],
      ['bad percent-encoding in the user', admin.get('/api/v1/users/%E0%A4%A/aliases'), 400, 'bad_path_encoding'],
      ['bad percent-encoding in the alias', admin.request('DELETE', `${aliasesOf('alice@example.test')}/%zz`), 400, 'bad_path_encoding'],
      ['unknown user (list)', admin.get(aliasesOf('nobody@example.test')), 404, 'user_not_found'],
      ['unknown user (add)', admin.post(aliasesOf('nobody@example.test'), { alias: 'x@example.test' }), 404, 'user_not_found'],
      ['unknown user (remove)', admin.request('DELETE', `${aliasesOf('nobody@example.test')}/x@example.test`), 404, 'user_not_found'],
      ['alias the user does not have', admin.request('DELETE', `${aliasesOf('bob@example.test')}/postmaster@example.test`), 404, 'alias_not_found'],
      ['a user address', admin.post(aliasesOf('alice@example.test'), { alias: 'bob@example.test' }), 409, 'address_is_user'],
      ['another user’s alias', admin.post(aliasesOf('bob@example.test'), { alias: 'postmaster@example.test' }), 409, 'alias_exists'],
      ['a new user named like an alias', admin.post('/api/v1/users', { email: 'postmaster@example.test' }), 409, 'address_is_alias'],
    ];
    for (const [name, pending, status, code] of cases) {
      const res = await pending;
      expect(res.status, name).toBe(status);
      expect(res.json.error, name).toBe(code);
    }
    expect((await admin.post(aliasesOf('alice@example.test'), 'alias=x@example.test', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(400);
    expect((await admin.get(aliasesOf('alice@example.test'))).json).toEqual({ aliases: ['postmaster@example.test'] });
  });

  it('is for admins only: 401 without credentials, 403 for a user or an mta token', async () => {
    const anonymous = new HttpClient(srv.url);
    expect((await anonymous.get(aliasesOf('alice@example.test'))).status).toBe(401);
    for (const who of [alice, mta]) {
      expect((await who.get(aliasesOf('alice@example.test'))).status).toBe(403);
      expect((await who.post(aliasesOf('alice@example.test'), { alias: 'mine@example.test' })).status).toBe(403);
      expect((await who.request('DELETE', `${aliasesOf('alice@example.test')}/postmaster@example.test`)).status).toBe(403);
    }
    expect((await admin.get(aliasesOf('alice@example.test'))).json).toEqual({ aliases: ['postmaster@example.test'] });
  });
});
