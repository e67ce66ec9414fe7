import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { DAY_MS } from '../../src/clock.ts';
import { addTestToken, addTestUser, HttpClient, startServer } from '../helpers/mailca.ts';

describe('GET /api/v1/portal-settings: the SMTP authentication method (MAILCA_SUBMISSION_AUTH)', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  async function settingsWith(overrides: Parameters<typeof startServer>[0]): Promise<{ auth: string }> {
    const srv = await startServer(overrides);
    stop = srv.stop;
    await addTestUser(srv.m, 'alice@example.test');
    const client = new HttpClient(srv.url);
    expect((await client.login('alice@example.test')).status).toBe(200);
    const res = await client.get('/api/v1/portal-settings');
    expect(res.status).toBe(200);
    return (res.json as { smtp: { auth: string } }).smtp;
  }

  it('is "none" by default (Postfix offers no AUTH EXTERNAL) and "external" when configured', async () => {
    expect((await settingsWith({})).auth).toBe('none');
    await stop?.();
    expect((await settingsWith({ submissionAuth: 'external' })).auth).toBe('external');
  });

  it('MAILCA_SUBMISSION_AUTH accepts only none or external', () => {
    expect(() => loadConfig({ MAILCA_SUBMISSION_AUTH: 'password' })).toThrow(/MAILCA_SUBMISSION_AUTH|submissionAuth/);
  });

  it("serves the signed-in user's migration state: grace (with the scheduled date), then enforced", async () => {
    const srv = await startServer({});
    stop = srv.stop;
    await addTestUser(srv.m, 'alice@example.test');
    await addTestUser(srv.m, 'bob@example.test');
    const admin = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'admin')}` });
    const alice = new HttpClient(srv.url);
    expect((await alice.login('alice@example.test')).status).toBe(200);
    const enforcement = async () => {
      const res = await alice.get('/api/v1/portal-settings');
      expect(res.status).toBe(200);
      return res.json.enforcement;
    };

    expect(await enforcement()).toEqual({ state: 'grace', enforced_from: null });

    const deadline = new Date(srv.clock.now().getTime() + 10 * DAY_MS).toISOString();
    expect((await admin.request('PUT', '/api/v1/enforcement/policy', { deadline })).status).toBe(200);
    expect(await enforcement()).toEqual({ state: 'grace', enforced_from: deadline });

    expect((await admin.post('/api/v1/users/alice%40example.test/enforcement', { state: 'enforced' })).status).toBe(200);
    expect(await enforcement()).toEqual({ state: 'enforced', enforced_from: null });

    // Another user's state is not alice's: bob is still in grace until the deadline.
    const bob = new HttpClient(srv.url);
    expect((await bob.login('bob@example.test')).status).toBe(200);
    expect((await bob.get('/api/v1/portal-settings')).json.enforcement).toEqual({ state: 'grace', enforced_from: deadline });
  });
});
