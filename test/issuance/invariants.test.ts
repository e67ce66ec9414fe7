import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FileSigner,
  createCaCertificate,
  generateCaKeyPair,
  issueLeafCertificate,
  issueLeafCertificateFromTemplate,
  newSerial,
} from '../../src/issuance/index.ts';
import { DAY_MS, generateLeafKey, spkiOf } from './helpers.ts';

const now = new Date();
const caNotAfter = new Date(now.getTime() + 365 * DAY_MS);
let signer: FileSigner;
let caDer: Uint8Array;

type LeafOptions = Parameters<typeof issueLeafCertificate>[0];

// The reference builder and the cached template must keep the same invariants.
const BUILDERS: [string, (opts: LeafOptions) => ReturnType<typeof issueLeafCertificate>][] = [
  ['issueLeafCertificate', issueLeafCertificate],
  ['leaf template', issueLeafCertificateFromTemplate],
];

function leafOptions(overrides: Partial<LeafOptions> = {}): LeafOptions {
  return {
    signer,
    caCertificateDer: caDer,
    email: 'alice@example.test',
    subjectPublicKeySpki: spkiOf(generateLeafKey('P-256')),
    serial: newSerial(),
    notBefore: now,
    notAfter: new Date(now.getTime() + 30 * DAY_MS),
    ...overrides,
  };
}

beforeAll(async () => {
  signer = new FileSigner(generateCaKeyPair('P-256').privateKey);
  const ca = await createCaCertificate({ signer, commonName: 'Invariant CA', serial: newSerial(), notBefore: now, notAfter: caNotAfter });
  caDer = ca.der;
});

describe.each(BUILDERS)('%s invariants', (_builder, issue) => {
  it('issues with valid options (baseline)', async () => {
    await expect(issue(leafOptions())).resolves.toBeDefined();
  });

  it('refuses notAfter beyond the CA certificate', async () => {
    await expect(issue(leafOptions({ notAfter: new Date(caNotAfter.getTime() + 1000) }))).rejects.toThrow(/after the CA certificate expires/);
    await expect(issue(leafOptions({ notAfter: caNotAfter }))).resolves.toBeDefined();
  });

  it('refuses notBefore not before notAfter, and invalid dates', async () => {
    await expect(issue(leafOptions({ notAfter: now }))).rejects.toThrow(/must be before/);
    await expect(issue(leafOptions({ notBefore: new Date('nope') }))).rejects.toThrow(/not a valid date/);
  });

  it.each([
    ['empty', ''],
    ['no @', 'alice.example.test'],
    ['two @', 'alice@bob@example.test'],
    ['empty local part', '@example.test'],
    ['empty domain', 'alice@'],
    ['space', 'alice smith@example.test'],
    ['tab', 'alice\t@example.test'],
    ['newline', 'alice@example.test\n'],
    ['NUL', 'alice\u0000@example.test'],
    ['DEL', 'alice\u007f@example.test'],
    ['non-ASCII (not an IA5String)', 'alïce@example.test'],
    ['longer than ub-common-name', `${'a'.repeat(60)}@example.test`],
  ])('refuses a bad email: %s', async (_label, email) => {
    await expect(issue(leafOptions({ email }))).rejects.toThrow(/Email address/);
  });

  it.each([
    ['DSA', () => generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 224 }).publicKey],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
    ['X25519', () => generateKeyPairSync('x25519').publicKey],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
    ['secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
    ['RSA-1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
    ['RSA-PSS', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey],
  ])('refuses a %s subject key', async (_label, makeKey) => {
    await expect(issue(leafOptions({ subjectPublicKeySpki: spkiOf(makeKey()) }))).rejects.toThrow(/Subject public key/);
  });

  it('refuses garbage and trailing bytes as SPKI', async () => {
    const spki = spkiOf(generateLeafKey('P-256'));
    await expect(issue(leafOptions({ subjectPublicKeySpki: new Uint8Array([0x30, 0x03, 1, 2, 3]) }))).rejects.toThrow(/Subject public key/);
    const withTrailing = new Uint8Array([...spki, 0]);
    await expect(issue(leafOptions({ subjectPublicKeySpki: withTrailing }))).rejects.toThrow(/Subject public key/);
  });

  it('refuses an EC point that is not on the curve', async () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const spki = spkiOf(generateLeafKey(curve));
      spki[spki.length - 1]! ^= 0x01;
      await expect(issue(leafOptions({ subjectPublicKeySpki: spki }))).rejects.toThrow(/Subject public key/);
    }
  });

  it("refuses the CA's own key as subject key", async () => {
    await expect(issue(leafOptions({ subjectPublicKeySpki: signer.publicKeySpki }))).rejects.toThrow(/is the CA key/);
  });

  it('refuses bad serials', async () => {
    for (const serial of ['ABCDEF'.padEnd(32, '0'), '80'.padEnd(32, '0'), '00'.padEnd(32, '1'), '1234']) {
      await expect(issue(leafOptions({ serial })), serial).rejects.toThrow(/Invalid serial/);
    }
  });

  it('refuses a signer whose key is not the CA certificate key', async () => {
    const otherSigner = new FileSigner(generateCaKeyPair('P-256').privateKey);
    await expect(issue(leafOptions({ signer: otherSigner }))).rejects.toThrow(/does not match the CA certificate/);
  });

  it('refuses a signer that returns a bad signature', async () => {
    const brokenSigner = { keyAlgorithm: signer.keyAlgorithm, publicKeySpki: signer.publicKeySpki, sign: async () => new Uint8Array(72) };
    await expect(issue(leafOptions({ signer: brokenSigner }))).rejects.toThrow(/does not verify/);
  });

  it('refuses a leaf certificate as the CA certificate', async () => {
    const leaf = await issue(leafOptions());
    await expect(issue(leafOptions({ caCertificateDer: leaf.der }))).rejects.toThrow(/CA:TRUE is missing/);
  });

  it('refuses a CRL distribution URL that is not an absolute ASCII URI', async () => {
    await expect(issue(leafOptions({ crlDistributionUrl: 'not a url' }))).rejects.toThrow(/CRL distribution URL/);
  });
});

describe('FileSigner', () => {
  it('accepts only P-256, P-384 and RSA-3072 private keys', () => {
    expect(new FileSigner(generateCaKeyPair('P-384').privateKey).keyAlgorithm).toBe('P-384');
    expect(() => new FileSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)).toThrow(/Unsupported CA key/);
    expect(() => new FileSigner(generateKeyPairSync('ed25519').privateKey)).toThrow(/Unsupported CA key/);
    expect(() => new FileSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toThrow(/private key/);
  });
});
