import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { caOverview, retireCa } from '../../src/enrolment/ca-rollover.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { renew, endOverlap } from '../../src/enrolment/renew.ts';
import { rotateCa } from '../../src/issuance/authority.ts';
import { addTestUser, opensslCsr, startMailca, testActor } from '../helpers/mailca.ts';

let env: Awaited<ReturnType<typeof startMailca>>;
let dir: string;

beforeAll(async () => {
  env = await startMailca({ certLifetimeDays: 365 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-rollover-'));
});
afterAll(async () => {
  await env?.stop();
});

const published = (f: string) => readFileSync(path.join(env.db.dataDir, 'publish', f), 'utf8');
const write = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const verify = (bundle: string, cert: string) => execFileSync('openssl', ['verify', '-CAfile', bundle, '-purpose', 'sslclient', cert], { encoding: 'utf8', stdio: 'pipe' });
const pemCount = (text: string, label: string) => text.split(`-----BEGIN ${label}-----`).length - 1;

describe('CA rollover', () => {
  it('keeps old and new certificates trusted during the rollover and drops the old CA once it is unused', async () => {
    const alice = await addTestUser(env.m, 'alice@example.test');
    const bob = await addTestUser(env.m, 'bob@example.test');
    const old = await enrol(env.m.ctx, testActor, { user: alice, csr: opensslCsr(dir, 'alice').csrPem });
    const oldCa = (await env.m.store.cas.findActive())!;

    const { ca: newCa, previous } = await rotateCa(env.m.store, env.m.keyring, {
      name: 'mailca client CA 2',
      keyAlgorithm: 'P-384',
      lifetimeDays: 3650,
      clock: env.clock,
      crossSign: true,
    });
    expect(previous?.id).toBe(oldCa.id);
    await env.m.publisher.publish();
    const fresh = await enrol(env.m.ctx, testActor, { user: bob, csr: opensslCsr(dir, 'bob').csrPem });
    expect(fresh.record.caId).toBe(newCa.id);

    // Both CAs in the bundle, a CRL for each; each certificate verifies against the published bundle.
    const bundle = write('bundle.pem', published('ca.pem'));
    expect(pemCount(published('ca.pem'), 'CERTIFICATE')).toBe(2);
    expect(pemCount(published('crl.pem'), 'X509 CRL')).toBe(2);
    expect(verify(bundle, write('old.pem', old.record.certificatePem))).toContain('OK');
    expect(verify(bundle, write('new.pem', fresh.record.certificatePem))).toContain('OK');
    const crls = published('crl.pem').split(/(?=-----BEGIN X509 CRL-----)/);
    for (const [i, crl] of crls.entries()) {
      expect(execFileSync('openssl', ['crl', '-in', write(`crl${i}.pem`, crl), '-CAfile', bundle, '-verify', '-noout'], { encoding: 'utf8', stdio: 'pipe' }) + '').toBeDefined();
    }
    // The cross-certificate chains the new CA key to the old CA.
    const cross = write('cross.pem', newCa.crossCertificatePem!);
    expect(execFileSync('openssl', ['verify', '-CAfile', write('oldca.pem', oldCa.certificatePem), cross], { encoding: 'utf8', stdio: 'pipe' })).toContain('OK');

    // The old CA cannot be retired while alice's certificate is valid…
    const overview = await caOverview(env.m.ctx);
    expect(overview.find((o) => o.ca.id === oldCa.id)).toMatchObject({ state: 'retiring', certificatesLeft: 1 });
    await expect(retireCa(env.m.ctx, testActor, { id: oldCa.id, force: false })).rejects.toMatchObject({ code: 'ca_in_use' });
    await expect(retireCa(env.m.ctx, testActor, { id: newCa.id, force: false })).rejects.toMatchObject({ code: 'ca_active' });

    // …but alice may renew at once (her certificate's CA no longer issues), far from her window.
    const renewed = await renew(env.m.ctx, testActor, { user: alice, serial: old.record.serial, csr: opensslCsr(dir, 'alice2').csrPem });
    expect(renewed.record.caId).toBe(newCa.id);
    await endOverlap(env.m.ctx, testActor, { user: alice, serial: old.record.serial });

    // Unused now: the old CA leaves the bundle and the CRL output, and can be retired without force.
    expect(pemCount(published('ca.pem'), 'CERTIFICATE')).toBe(1);
    const { ca: retired } = await retireCa(env.m.ctx, testActor, { id: oldCa.id, force: false });
    expect(retired.status).toBe('retired');
    expect(() => verify(write('bundle2.pem', published('ca.pem')), write('old2.pem', old.record.certificatePem))).toThrow();
    expect(verify(write('bundle3.pem', published('ca.pem')), write('renewed.pem', renewed.record.certificatePem))).toContain('OK');
  });

  it('--force retires a CA with valid certificates by revoking them', async () => {
    const carol = await addTestUser(env.m, 'carol@example.test');
    const cert = await enrol(env.m.ctx, testActor, { user: carol, csr: opensslCsr(dir, 'carol').csrPem });
    const { ca: third, previous } = await rotateCa(env.m.store, env.m.keyring, { name: 'mailca client CA 3', keyAlgorithm: 'P-256', lifetimeDays: 3650, clock: env.clock, crossSign: false });
    expect(third.crossCertificatePem).toBeNull();
    const { revoked } = await retireCa(env.m.ctx, testActor, { id: previous!.id, force: true });
    expect(revoked).toContain(cert.record.serial);
    expect(published('allowlist.postfix')).not.toContain(cert.record.serial);
    env.clock.advance(DAY_MS);
  });
});
