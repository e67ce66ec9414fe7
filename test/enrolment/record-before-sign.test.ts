import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnrolmentContext } from '../../src/enrolment/context.ts';
import { enrol, unfinishedIssuances } from '../../src/enrolment/enrol.ts';
import { disableUser } from '../../src/enrolment/users.ts';
import type { CaKeyring } from '../../src/issuance/authority.ts';
import type { Signer } from '../../src/issuance/signer.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';

// Issuance records before it signs: a pending issuance and an audit event are committed, then the
// certificate is signed, then stored (and the pending record removed). A failure in between stays visible.

let env: Awaited<ReturnType<typeof startMailca>>;
const dir = mkdtempSync(path.join(tmpdir(), 'mailca-record-'));
beforeAll(async () => {
  env = await startMailca();
});
afterAll(async () => {
  await env?.stop();
});

/** The real issuer, with a signer that runs `around` before signing with the real key. */
function contextWithSigner(around: (data: Uint8Array) => Promise<void>): EnrolmentContext {
  const { ctx } = env.m;
  const keyring = {
    active: async () => {
      const issuer = await ctx.keyring.active();
      const signer: Signer = {
        keyAlgorithm: issuer.signer.keyAlgorithm,
        publicKeySpki: issuer.signer.publicKeySpki,
        sign: async (data) => {
          await around(data);
          return issuer.signer.sign(data);
        },
      };
      return { ...issuer, signer };
    },
  } as unknown as CaKeyring;
  return { ...ctx, keyring };
}

describe('record, then sign', () => {
  it('commits the pending issuance and its audit event before the signature; removes the record once the certificate is stored', async () => {
    const user = await addTestUser(env.m, 'recorded@example.test');
    const seenWhileSigning: string[] = [];
    const ctx = contextWithSigner(async () => {
      // Read from outside the issuance's transactions: only what is committed is visible.
      const pending = await env.m.store.pendingIssuances.listUnfinished(new Date(Date.now() + 60_000));
      seenWhileSigning.push(...pending.filter((p) => p.userId === user.id).map((p) => p.serial));
    });
    const { record } = await enrol(ctx, testActor, { user, csr: opensslCsr(dir, 'recorded').csrPem });
    expect(seenWhileSigning).toEqual([record.serial]);
    expect(await env.m.store.pendingIssuances.listUnfinished(new Date(Date.now() + 60_000))).toEqual([]);
    const events = (await env.m.store.audit.list({ limit: 10, offset: 0, target: record.serial })).items;
    // Newest first: the issue event follows the sign event.
    expect(events.map((e) => e.action)).toEqual(['certificate.issue', 'certificate.sign']);
    expect(events[1]!.details).toMatchObject({ email: user.email, spki_sha256: record.spkiSha256 });
    expect(events[1]!.id).toBeLessThan(events[0]!.id);
  });

  it('a signature that fails leaves the issuance marked failed, audited, and no certificate', async () => {
    const user = await addTestUser(env.m, 'unsigned@example.test');
    const ctx = contextWithSigner(async () => {
      throw new Error('the token is unplugged');
    });
    await expect(enrol(ctx, testActor, { user, csr: opensslCsr(dir, 'unsigned').csrPem })).rejects.toThrow('the token is unplugged');
    expect(await env.m.store.certificates.listForUser(user.id)).toEqual([]);
    const unfinished = (await unfinishedIssuances(env.m.ctx)).filter((p) => p.userId === user.id);
    expect(unfinished).toHaveLength(1);
    expect(unfinished[0]!.failure).toContain('the token is unplugged');
    expect(unfinished[0]!.failedAt).not.toBeNull();
    const events = (await env.m.store.audit.list({ limit: 10, offset: 0, target: unfinished[0]!.serial })).items.map((e) => e.action);
    expect(events).toEqual(['certificate.sign_failed', 'certificate.sign']);
  });

  it('a certificate signed for a user disabled meanwhile is discarded: audited, not stored, and not counted as unfinished', async () => {
    const user = await addTestUser(env.m, 'disabled-meanwhile@example.test');
    const ctx = contextWithSigner(async () => {
      await disableUser(env.m.ctx, testActor, user.email);
    });
    await expect(enrol(ctx, testActor, { user, csr: opensslCsr(dir, 'disabled-meanwhile').csrPem })).rejects.toMatchObject({ code: 'user_disabled' });
    expect(await env.m.store.certificates.listForUser(user.id)).toEqual([]);
    expect((await unfinishedIssuances(env.m.ctx)).filter((p) => p.userId === user.id)).toEqual([]);
    env.clock.advance(61_000);
    expect((await unfinishedIssuances(env.m.ctx)).filter((p) => p.userId === user.id)).toEqual([]);
    const signed = (await env.m.store.audit.list({ limit: 50, offset: 0 })).items.find((e) => e.action === 'certificate.sign' && e.details?.email === user.email);
    expect(signed).toBeDefined();
    const events = (await env.m.store.audit.list({ limit: 10, offset: 0, target: signed!.target! })).items;
    expect(events.map((e) => e.action)).toEqual(['certificate.discarded', 'certificate.sign']);
    expect(events[0]!.details).toMatchObject({ reason: 'user_disabled' });
  });

  it('an issuance interrupted between recording and storing is reported once it is a minute old', async () => {
    const user = await addTestUser(env.m, 'interrupted@example.test');
    const now = env.clock.now();
    await env.m.store.pendingIssuances.insert({ serial: 'aa'.repeat(16), caId: (await env.m.ctx.keyring.active()).ca.id, userId: user.id, email: user.email, spkiSha256: 'b'.repeat(64), notBefore: now, notAfter: now, requestedAt: now });
    expect((await unfinishedIssuances(env.m.ctx)).map((p) => p.serial)).not.toContain('aa'.repeat(16));
    env.clock.advance(61_000);
    expect((await unfinishedIssuances(env.m.ctx)).map((p) => p.serial)).toContain('aa'.repeat(16));
  });
});
