import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import type { ConfigInput } from '../../src/config.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { CaKeyring, rotateCa } from '../../src/issuance/authority.ts';
import { Pkcs11Token } from '../../src/issuance/pkcs11-signer.ts';
import type { KeyAlgorithm } from '../../src/issuance/signer.ts';
import { openMailca, serve, type Mailca } from '../../src/main.ts';
import { createTestDatabase, openRawDatabase, type TestDatabase } from '../helpers/database.ts';
import { addTestUser, opensslCsr, startMailca, testActor, testConfig } from '../helpers/mailca.ts';
import { createSoftHsmToken, privateKeyBlocks, type SoftHsmToken } from '../helpers/softhsm.ts';
import { makeTempDir, opensslAll, type TempDir } from './helpers.ts';

let token: SoftHsmToken;
let tmp: TempDir;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  token = createSoftHsmToken();
  tmp = makeTempDir();
});
// Each test closes what it opened: a session left logged in would log later sessions of this process in too.
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  tmp?.remove();
  token?.remove();
});

/** A fresh database whose first CA is made in the token (as `mailca init --pkcs11` does). */
async function pkcs11Mailca(keyLabel: string, overrides: Partial<ConfigInput> = {}): Promise<{ m: Mailca; db: TestDatabase; config: ReturnType<typeof testConfig>; close(): Promise<void> }> {
  const db = await createTestDatabase();
  const config = testConfig(db, { ...token.config, pkcs11KeyLabel: keyLabel, caPassphrase: undefined, ...overrides });
  cleanups.push(() => db.drop());
  const m = await openMailca(config, { clock: new ManualClock(), log: pino({ level: 'silent' }), createCaIfMissing: true, newCaKey: 'pkcs11' });
  let open = true;
  const close = async () => {
    if (open) await m.close();
    open = false;
  };
  cleanups.push(close);
  return { m, db, config, close };
}

const published = (m: Mailca, file: string) => readFileSync(path.join(m.config.dataDir, 'publish', file), 'utf8');

/** Each CRL in publish/crl.pem verifies against the published bundle (openssl crl -verify). */
function expectCrlsVerify(m: Mailca, name: string): number {
  const bundle = tmp.write(`${name}-bundle.pem`, published(m, 'ca.pem'));
  const crls = published(m, 'crl.pem').split(/(?=-----BEGIN X509 CRL-----)/);
  for (const [i, crl] of crls.entries()) {
    expect(opensslAll(['crl', '-in', tmp.write(`${name}-crl${i}.pem`, crl), '-CAfile', bundle, '-verify', '-noout'])).toContain('verify OK');
  }
  return crls.length;
}

function expectVerifies(m: Mailca, name: string, certificatePem: string): void {
  const bundle = tmp.write(`${name}-bundle.pem`, published(m, 'ca.pem'));
  expect(opensslAll(['verify', '-CAfile', bundle, '-purpose', 'sslclient', tmp.write(`${name}.pem`, certificatePem)])).toContain(': OK');
}

describe('the CA key in a PKCS#11 token (SoftHSM2)', { timeout: 180_000 }, () => {
  for (const alg of ['P-256', 'P-384', 'RSA-3072'] as KeyAlgorithm[]) {
    it(`${alg}: makes the key in the token, issues and signs CRLs with it, and keeps nothing of it in the database`, async () => {
      const keyLabel = `ca-${alg}`;
      const { m, db, config } = await pkcs11Mailca(keyLabel, { caKeyAlgorithm: alg });
      const ca = (await m.store.cas.findActive())!;
      expect(ca.keyAlgorithm).toBe(alg);
      expect(ca.key).toMatchObject({ kind: 'pkcs11', tokenLabel: token.label, keyLabel });

      const alice = await addTestUser(m, `alice-${alg.toLowerCase()}@example.test`);
      const cert = await enrol(m.ctx, testActor, { user: alice, csr: opensslCsr(tmp.path, `alice-${alg}`).csrPem });
      expectVerifies(m, `leaf-${alg}`, cert.record.certificatePem);
      expect(opensslAll(['x509', '-in', tmp.write(`ca-${alg}.pem`, ca.certificatePem), '-noout', '-text'])).toContain(alg === 'RSA-3072' ? 'sha256WithRSAEncryption' : alg === 'P-384' ? 'ecdsa-with-SHA384' : 'ecdsa-with-SHA256');
      await m.publisher.publish();
      expect(expectCrlsVerify(m, `crl-${alg}`)).toBe(1);

      // The private key is sensitive and was never extractable (as pkcs11-tool reads it from the token).
      const blocks = privateKeyBlocks(token, keyLabel);
      expect(blocks).toHaveLength(1);
      expect(blocks[0]).toMatch(/Access:.*\bsensitive\b/);
      expect(blocks[0]).toMatch(/Access:.*never extractable/);
      expect(blocks[0]).toContain(`ID:         ${ca.key.kind === 'pkcs11' ? ca.key.keyId : '?'}`);

      // The database holds a reference, no key; no passphrase was needed or generated.
      const knex = openRawDatabase(db);
      try {
        const [row] = await knex('cas').where({ id: ca.id });
        expect(row.encrypted_key_pem).toBe('');
        expect(JSON.parse(row.key_location)).toEqual({ kind: 'pkcs11', tokenLabel: token.label, keyLabel, keyId: expect.stringMatching(/^[0-9a-f]{32}$/) });
        expect(JSON.stringify(row)).not.toContain('PRIVATE KEY');
      } finally {
        await knex.destroy();
      }
      expect(existsSync(path.join(db.dataDir, 'ca-passphrase'))).toBe(false);

      // Another process (a new keyring) finds the key from the stored reference and signs with it.
      const again = await openMailca(config, { log: pino({ level: 'silent' }) });
      try {
        const bob = await addTestUser(again, `bob-${alg.toLowerCase()}@example.test`);
        const second = await enrol(again.ctx, testActor, { user: bob, csr: opensslCsr(tmp.path, `bob-${alg}`).csrPem });
        expectVerifies(m, `leaf2-${alg}`, second.record.certificatePem);
      } finally {
        await again.close();
      }
    });
  }

  it('rotates from a file CA to a token key: both CAs trusted, both CRLs verify, the cross-certificate chains', async () => {
    const env = await startMailca({ ...token.config, pkcs11KeyLabel: 'rotated' });
    cleanups.push(() => env.stop());
    const old = (await env.m.store.cas.findActive())!;
    expect(old.key.kind).toBe('file');
    const alice = await addTestUser(env.m, 'alice-rotate@example.test');
    const before = await enrol(env.m.ctx, testActor, { user: alice, csr: opensslCsr(tmp.path, 'rot-alice').csrPem });

    const { ca: fresh, previous } = await rotateCa(env.m.store, env.m.keyring, { name: 'token CA', keyAlgorithm: 'P-384', lifetimeDays: 3650, clock: env.clock, crossSign: true, keyStorage: 'pkcs11' });
    expect(previous?.id).toBe(old.id);
    expect(fresh.key).toMatchObject({ kind: 'pkcs11', keyLabel: 'rotated' });
    await env.m.publisher.publish();

    const bob = await addTestUser(env.m, 'bob-rotate@example.test');
    const after = await enrol(env.m.ctx, testActor, { user: bob, csr: opensslCsr(tmp.path, 'rot-bob').csrPem });
    expect(after.record.caId).toBe(fresh.id);
    expect(published(env.m, 'ca.pem').split('BEGIN CERTIFICATE').length - 1).toBe(2);
    expectVerifies(env.m, 'rot-before', before.record.certificatePem);
    expectVerifies(env.m, 'rot-after', after.record.certificatePem);
    expect(expectCrlsVerify(env.m, 'rot')).toBe(2);
    const cross = tmp.write('rot-cross.pem', fresh.crossCertificatePem!);
    expect(opensslAll(['verify', '-CAfile', tmp.write('rot-old.pem', old.certificatePem), cross])).toContain(': OK');
  });

  it('rotates from a token key back to a file key, generating the passphrase as a first start does', async () => {
    const { m, db } = await pkcs11Mailca('back-to-file');
    const passFile = path.join(db.dataDir, 'ca-passphrase');
    expect(existsSync(passFile)).toBe(false);
    const gina = await addTestUser(m, 'gina@example.test');
    const before = await enrol(m.ctx, testActor, { user: gina, csr: opensslCsr(tmp.path, 'gina1').csrPem });
    const { ca: fresh } = await rotateCa(m.store, m.keyring, { name: 'file CA again', keyAlgorithm: 'P-256', lifetimeDays: 3650, clock: m.ctx.clock, crossSign: true });
    expect(fresh.key.kind).toBe('file');
    expect(existsSync(passFile)).toBe(true);
    const after = await enrol(m.ctx, testActor, { user: gina, csr: opensslCsr(tmp.path, 'gina2').csrPem });
    expect(after.record.caId).toBe(fresh.id);
    await m.publisher.publish();
    expectVerifies(m, 'back-to-file-old', before.record.certificatePem);
    expectVerifies(m, 'back-to-file-new', after.record.certificatePem);
    expect(expectCrlsVerify(m, 'back-to-file')).toBe(2); // the token CA still signs its own CRL
  });

  it('uses an existing key pair with the label (made by pkcs11-tool) instead of making another', async () => {
    token.pkcs11Tool(['--keypairgen', '--key-type', 'EC:secp384r1', '--label', 'existing', '--id', '0102']);
    const { m } = await pkcs11Mailca('existing', { caKeyAlgorithm: 'P-384' });
    const ca = (await m.store.cas.findActive())!;
    expect(ca.key).toEqual({ kind: 'pkcs11', tokenLabel: token.label, keyLabel: 'existing', keyId: '0102' });
    expect(privateKeyBlocks(token, 'existing')).toHaveLength(1);
    const carol = await addTestUser(m, 'carol@example.test');
    expectVerifies(m, 'existing', (await enrol(m.ctx, testActor, { user: carol, csr: opensslCsr(tmp.path, 'carol').csrPem })).record.certificatePem);

    // The existing key decides the algorithm: asking for another one is refused, not silently changed.
    await expect(pkcs11Mailca('existing', { caKeyAlgorithm: 'P-256' })).rejects.toThrow('the existing key "existing" in PKCS#11 token "mailca" is P-384, not P-256');
  });

  it('refuses a wrong PIN, a missing token and a missing key with one clear line, and the server does not start', async () => {
    const settings = { module: token.module, pin: 'wrong-pin' };
    expect(() => Pkcs11Token.open(settings, token.label)).toThrow(`wrong PIN for PKCS#11 token "${token.label}" (MAILCA_PKCS11_PIN)`);
    expect(() => Pkcs11Token.open({ ...settings, pin: token.pin }, 'no-such-token')).toThrow(`no PKCS#11 token labelled "no-such-token" in ${token.module} (MAILCA_PKCS11_TOKEN_LABEL); tokens there: "${token.label}"`);
    expect(() => Pkcs11Token.open({ pin: token.pin }, token.label)).toThrow('MAILCA_PKCS11_MODULE is not set');
    expect(() => Pkcs11Token.open({ module: '/nonexistent/libnothing.so', pin: token.pin }, token.label)).toThrow('cannot load the PKCS#11 module /nonexistent/libnothing.so (MAILCA_PKCS11_MODULE)');

    // The PIN file: one trailing newline is not part of the PIN.
    const pinFile = tmp.write('pin', `${token.pin}\n`);
    Pkcs11Token.open({ module: token.module, pinFile }, token.label).close();
    expect(() => Pkcs11Token.open({ module: token.module, pinFile: tmp.write('bad-pin', 'nope\n') }, token.label)).toThrow(/^wrong PIN for PKCS#11 token "mailca" \(MAILCA_PKCS11_PIN_FILE .*bad-pin\)$/);

    const { db, close } = await pkcs11Mailca('pin-test');
    await close();
    const wrong = testConfig(db, { ...token.config, pkcs11Pin: 'wrong-pin' });
    const error = await serve(wrong, { log: pino({ level: 'silent' }), scheduler: false }).then(
      (running) => running.stop().then(() => undefined),
      (e: unknown) => e as Error,
    );
    expect(error?.message).toBe(`wrong PIN for PKCS#11 token "${token.label}" (MAILCA_PKCS11_PIN)`);

    const noKey = await pkcs11Mailca('deleted-later');
    const id = (await noKey.m.store.cas.findActive())!.id;
    token.pkcs11Tool(['--delete-object', '--type', 'privkey', '--label', 'deleted-later']);
    const keyring = new CaKeyring(noKey.m.store, { passphrase: 'unused passphrase', pkcs11: { module: token.module, pin: token.pin } });
    try {
      await expect(keyring.forCa((await noKey.m.store.cas.findById(id))!)).rejects.toThrow(`PKCS#11 token "${token.label}" has no key labelled "deleted-later" with id`);
    } finally {
      keyring.close();
    }
  });

  it('refuses a key that does not match the CA certificate (token or file)', async () => {
    const { m, db } = await pkcs11Mailca('matching', { caKeyAlgorithm: 'P-256' });
    token.pkcs11Tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'impostor']);
    const ca = (await m.store.cas.findActive())!;
    const knex = openRawDatabase(db);
    try {
      await knex('cas').where({ id: ca.id }).update({ key_location: JSON.stringify({ kind: 'pkcs11', tokenLabel: token.label, keyLabel: 'impostor', keyId: '' }) });
      const keyring = new CaKeyring(m.store, { passphrase: 'unused passphrase', pkcs11: { module: token.module, pin: token.pin } });
      try {
        await expect(keyring.active()).rejects.toThrow(`the key of CA ${ca.id} "${ca.name}" (PKCS#11 token "${token.label}", key "impostor") does not match the CA certificate: refusing to sign with it`);
      } finally {
        keyring.close();
      }
    } finally {
      await knex.destroy();
    }

    // A file CA whose encrypted key was swapped for another CA's key is refused the same way.
    const a = await startMailca();
    const b = await startMailca();
    cleanups.push(() => a.stop(), () => b.stop());
    const caA = (await a.m.store.cas.findActive())!;
    const caB = (await b.m.store.cas.findActive())!;
    const rawA = openRawDatabase(a.db);
    try {
      await rawA('cas').where({ id: caA.id }).update({ encrypted_key_pem: caB.key.kind === 'file' ? caB.key.encryptedKeyPem : '' });
    } finally {
      await rawA.destroy();
    }
    const keyring = new CaKeyring(a.m.store, { passphrase: 'test passphrase for the CA key' });
    await expect(keyring.active()).rejects.toThrow(`(encrypted in the database) does not match the CA certificate`);
  });

  it('logs in again when the login was lost (another session of the process logged out)', async () => {
    const { m } = await pkcs11Mailca('relogin');
    const dave = await addTestUser(m, 'dave@example.test');
    await enrol(m.ctx, testActor, { user: dave, csr: opensslCsr(tmp.path, 'dave1').csrPem });
    // The module is already initialised in this process; a second handle on it shares its login state.
    const lib = new pkcs11js.PKCS11();
    lib.load(token.module);
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token.label)!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    lib.C_Logout(session);
    lib.C_CloseSession(session);
    const again = await enrol(m.ctx, testActor, { user: dave, csr: opensslCsr(tmp.path, 'dave2').csrPem });
    expectVerifies(m, 'relogin', again.record.certificatePem);
  });
});
