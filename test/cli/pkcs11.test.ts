import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMailca } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { opensslCsr, writeText } from '../helpers/mailca.ts';
import { createSoftHsmToken, privateKeyBlocks, type SoftHsmToken } from '../helpers/softhsm.ts';
import { opensslAll } from '../issuance/helpers.ts';

let token: SoftHsmToken;
const dbs: TestDatabase[] = [];

beforeAll(() => {
  token = createSoftHsmToken();
});
afterAll(async () => {
  for (const db of dbs) await db.drop();
  token?.remove();
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
}

const bundleOf = (db: TestDatabase) => path.join(db.dataDir, 'publish', 'ca.pem');
const verify = (db: TestDatabase, certFile: string) => opensslAll(['verify', '-CAfile', bundleOf(db), '-purpose', 'sslclient', certFile]);

describe('mailca CLI with the CA key in a PKCS#11 token', () => {
  it('init --pkcs11 makes the key in the token (PIN from a file); issued certificates and the CRL verify', { timeout: 240_000 }, async () => {
    const db = await freshDatabase();
    const pinFile = writeText(path.join(db.dataDir, 'pin'), `${token.pin}\n`);
    const { MAILCA_PKCS11_PIN: _pin, ...withoutPin } = token.env;
    const env = { ...withoutPin, MAILCA_PKCS11_PIN_FILE: pinFile, MAILCA_PKCS11_KEY_LABEL: 'cli-ca' };
    const init = await runMailca(db, ['init', '--pkcs11', '--key-alg', 'P-384', '--name', 'Token CA'], undefined, env);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`created CA "Token CA" (P-384, key in PKCS#11 token "${token.label}" (label "cli-ca"))`);
    expect(existsSync(path.join(db.dataDir, 'ca-passphrase'))).toBe(false); // no file key, no passphrase
    expect(privateKeyBlocks(token, 'cli-ca')[0]).toMatch(/never extractable/);

    expect((await runMailca(db, ['user', 'add', 'erin@example.test'], undefined, env)).code).toBe(0);
    const { csrFile } = opensslCsr(db.dataDir, 'erin', 'P-256');
    const out = path.join(db.dataDir, 'erin.pem');
    const issued = await runMailca(db, ['issue', '--email', 'erin@example.test', '--csr', csrFile, '--out', out], undefined, env);
    expect(issued.code, issued.stderr).toBe(0);
    expect(verify(db, out)).toContain(': OK');
    expect(opensslAll(['crl', '-in', path.join(db.dataDir, 'publish', 'crl.pem'), '-CAfile', bundleOf(db), '-verify', '-noout'])).toContain('verify OK');

    // A wrong PIN: one line naming the token, exit 1, the PIN not shown.
    const again = opensslCsr(db.dataDir, 'erin2', 'P-256');
    const wrong = await runMailca(db, ['issue', '--email', 'erin@example.test', '--csr', again.csrFile], undefined, { ...withoutPin, MAILCA_PKCS11_PIN: 'not-the-pin' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toBe(`mailca: wrong PIN for PKCS#11 token "${token.label}" (MAILCA_PKCS11_PIN)`);
    const both = await runMailca(db, ['publish'], undefined, { ...env, MAILCA_PKCS11_PIN: token.pin });
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('MAILCA_PKCS11_PIN_FILE');
  });

  it('ca rotate --pkcs11 moves a file CA to a token key; old and new certificates stay trusted', { timeout: 240_000 }, async () => {
    const db = await freshDatabase();
    const env: Record<string, string> = { ...token.env, MAILCA_PKCS11_KEY_LABEL: 'rotated-ca' };
    expect((await runMailca(db, ['init'])).code).toBe(0); // a file key, as before
    expect((await runMailca(db, ['user', 'add', 'fred@example.test'])).code).toBe(0);
    const first = opensslCsr(db.dataDir, 'fred1', 'P-256');
    const oldCert = path.join(db.dataDir, 'old.pem');
    expect((await runMailca(db, ['issue', '--email', 'fred@example.test', '--csr', first.csrFile, '--out', oldCert])).code).toBe(0);

    const { MAILCA_PKCS11_TOKEN_LABEL: _label, ...noToken } = env;
    const missing = await runMailca(db, ['ca', 'rotate', '--pkcs11'], undefined, noToken);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('mailca: MAILCA_PKCS11_TOKEN_LABEL is not set: it names the PKCS#11 token that holds the CA key');

    const rotated = await runMailca(db, ['ca', 'rotate', '--pkcs11', '--key-alg', 'RSA-3072', '--name', 'Token CA 2'], undefined, env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/new CA 2 "Token CA 2" \(RSA-3072, key in PKCS#11 token "mailca" \(label "rotated-ca"\)\) issues from now on/);

    const second = opensslCsr(db.dataDir, 'fred2', 'P-256');
    const newCert = path.join(db.dataDir, 'new.pem');
    const issued = await runMailca(db, ['issue', '--email', 'fred@example.test', '--csr', second.csrFile, '--out', newCert], undefined, env);
    expect(issued.code, issued.stderr).toBe(0);
    expect(readFileSync(bundleOf(db), 'utf8').split('BEGIN CERTIFICATE').length - 1).toBe(2);
    expect(verify(db, oldCert)).toContain(': OK');
    expect(verify(db, newCert)).toContain(': OK');
    expect(opensslAll(['x509', '-in', newCert, '-noout', '-issuer'])).toContain('Token CA 2');
  });
});
