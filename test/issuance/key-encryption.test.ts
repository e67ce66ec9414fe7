import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSigner, KEY_ENCRYPTION_PBKDF2_ITERATIONS, encryptPrivateKey, generateCaKeyPair, verifySignature } from '../../src/issuance/index.ts';
import { makeTempDir, openssl, opensslResult, type TempDir } from './helpers.ts';

let tmp: TempDir;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.remove());

describe('encrypted CA key', () => {
  it.each(['P-256', 'RSA-3072'] as const)('%s: round-trips, rejects a wrong passphrase, and opens in openssl', async (alg) => {
    const { privateKey } = generateCaKeyPair(alg);
    const passphrase = 'correct horse battery staple ✓';
    const pem = encryptPrivateKey(privateKey, passphrase);
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);

    const signer = FileSigner.fromEncryptedPem(pem, passphrase);
    expect(signer.keyAlgorithm).toBe(alg);
    const data = new TextEncoder().encode('to be signed');
    expect(verifySignature(alg, signer.publicKeySpki, data, await signer.sign(data))).toBe(true);

    expect(() => FileSigner.fromEncryptedPem(pem, 'wrong passphrase')).toThrow(/wrong passphrase/);

    const keyFile = tmp.write(`key-${alg}.pem`, pem);
    const passFile = tmp.write(`pass-${alg}.txt`, `${passphrase}\n`);
    const publicFromOpenssl = openssl(['pkey', '-in', keyFile, '-passin', `file:${passFile}`, '-pubout']);
    expect(publicFromOpenssl).toBe(signerPublicPem(signer));
    const wrong = opensslResult(['pkey', '-in', keyFile, '-passin', 'pass:wrong', '-noout']);
    expect(wrong.status).not.toBe(0);
    expect(wrong.output.toLowerCase()).toContain('could not read key');
  });

  it('uses PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, and does not contain the raw key', () => {
    const { privateKey } = generateCaKeyPair('P-256');
    const pem = encryptPrivateKey(privateKey, 'hunter2-hunter2');
    const dump = openssl(['asn1parse', '-in', tmp.write('key-structure.pem', pem)]);
    expect(dump).toContain(':PBES2');
    expect(dump).toContain(':PBKDF2');
    expect(dump).toContain(':hmacWithSHA256');
    expect(dump).toContain(':aes-256-cbc');
    expect(dump).toMatch(new RegExp(`prim: INTEGER\\s+:0*${KEY_ENCRYPTION_PBKDF2_ITERATIONS.toString(16).toUpperCase()}\\n`));

    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const rawPkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const privateScalar = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
    expect(privateScalar).toHaveLength(32);
    expect(der.includes(rawPkcs8)).toBe(false);
    expect(der.includes(privateScalar)).toBe(false);
    expect(pem).not.toContain(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().split('\n')[1]);
  });

  it('refuses an unencrypted PEM and an empty passphrase', () => {
    const { privateKey } = generateCaKeyPair('P-256');
    const plain = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => FileSigner.fromEncryptedPem(plain, 'anything')).toThrow(/not an encrypted/);
    expect(() => encryptPrivateKey(privateKey, '')).toThrow(/empty passphrase/);
  });
});

function signerPublicPem(signer: FileSigner): string {
  const base64 = Buffer.from(signer.publicKeySpki).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${(base64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END PUBLIC KEY-----\n`;
}
