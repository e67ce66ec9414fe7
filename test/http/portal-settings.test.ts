import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { addTestUser, HttpClient, startServer } from '../helpers/mailca.ts';

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
});
