import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';

let env: Awaited<ReturnType<typeof startMailca>>;
beforeAll(async () => {
  env = await startMailca({ certLifetimeDays: 10 });
});
afterAll(async () => {
  await env?.stop();
});

describe('active-set token (what the allow-list cache keys on)', () => {
  it('moves on every issue, revocation and expiry, and only then', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-token-'));
    const certs = env.m.store.certificates;
    const token = () => certs.activeSetToken(env.clock.now());
    const user = await addTestUser(env.m, 'alice@example.test');
    const t0 = await token();
    expect(await token()).toBe(t0);
    const a = (await enrol(env.m.ctx, testActor, { user, csr: opensslCsr(dir, 'a').csrPem })).record;
    const t1 = await token();
    expect(t1).not.toBe(t0);
    env.clock.advance(60_000);
    const b = (await enrol(env.m.ctx, testActor, { user, csr: opensslCsr(dir, 'b').csrPem })).record;
    const t2 = await token();
    expect(t2).not.toBe(t1);
    await revoke(env.m.ctx, testActor, { serial: b.serial, reason: 'superseded' });
    const t3 = await token();
    expect(t3).not.toBe(t2);
    env.clock.set(new Date(a.notAfter.getTime() - 1));
    expect(await token()).toBe(t3);
    env.clock.set(a.notAfter);
    expect(await token()).not.toBe(t3);
  });
});
