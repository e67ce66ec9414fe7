import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileSigner,
  createCaCertificate,
  fingerprintSha256Hex,
  formatFingerprintColons,
  generateCaKeyPair,
  issueLeafCertificate,
  newSerial,
  type KeyAlgorithm,
} from '../../src/issuance/index.ts';
import { sha256Hex } from '../../src/issuance/bytes.ts';
import { DAY_MS, generateLeafKey, makeTempDir, openssl, opensslAll, spkiOf, type LeafKeyType, type TempDir } from './helpers.ts';

const CA_ALGORITHMS: KeyAlgorithm[] = ['P-256', 'P-384', 'RSA-3072'];
const LEAF_KEY_TYPES: LeafKeyType[] = ['P-256', 'P-384', 'RSA-2048'];
const CA_SIGNATURE_TEXT: Record<KeyAlgorithm, string> = {
  'P-256': 'ecdsa-with-SHA256',
  'P-384': 'ecdsa-with-SHA384',
  'RSA-3072': 'sha256WithRSAEncryption',
};

let tmp: TempDir;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.remove());

describe.each(CA_ALGORITHMS)('CA key %s', (caAlgorithm) => {
  const now = new Date();
  let signer: FileSigner;
  let ca: { der: Uint8Array; pem: string };
  let caFile: string;

  beforeAll(async () => {
    signer = new FileSigner(generateCaKeyPair(caAlgorithm).privateKey);
    ca = await createCaCertificate({
      signer,
      commonName: `Mailca Test CA ${caAlgorithm}`,
      organization: 'Mailca Tests',
      serial: newSerial(),
      notBefore: new Date(now.getTime() - DAY_MS),
      notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    });
    caFile = tmp.write(`ca-${caAlgorithm}.pem`, ca.pem);
  });

  it('creates a self-signed CA certificate with the CA profile', () => {
    expect(opensslAll(['verify', '-x509_strict', '-CAfile', caFile, caFile])).toContain(': OK');
    const text = openssl(['x509', '-in', caFile, '-text', '-noout']);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toContain(`Signature Algorithm: ${CA_SIGNATURE_TEXT[caAlgorithm]}`);
    expect(text).toContain(`Subject: O = Mailca Tests, CN = Mailca Test CA ${caAlgorithm}`);
    const ski = text.match(/Subject Key Identifier: *\n\s+([0-9A-F:]+)/)?.[1];
    const aki = text.match(/Authority Key Identifier: *\n\s+([0-9A-F:]+)/)?.[1];
    expect(ski).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(aki).toBe(ski);
  });

  describe.each(LEAF_KEY_TYPES)('leaf key %s', (leafKeyType) => {
    it('issues a minimal leaf that openssl verifies for client auth', async () => {
      const leafKey = generateLeafKey(leafKeyType);
      const serial = newSerial();
      const issued = await issueLeafCertificate({
        signer,
        caCertificateDer: ca.der,
        email: 'alice@example.test',
        subjectPublicKeySpki: spkiOf(leafKey),
        serial,
        notBefore: now,
        notAfter: new Date(now.getTime() + 30 * DAY_MS),
      });
      const leafFile = tmp.write(`leaf-${caAlgorithm}-${leafKeyType}-min.pem`, issued.pem);
      expect(opensslAll(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', caFile, leafFile])).toContain(': OK');

      const text = openssl(['x509', '-in', leafFile, '-text', '-noout']);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      const keyUsage = leafKeyType === 'RSA-2048' ? 'Digital Signature, Key Encipherment' : 'Digital Signature';
      expect(text).toMatch(new RegExp(`X509v3 Key Usage: critical\\s+${keyUsage}\\n`));
      expect(text).toMatch(/X509v3 Extended Key Usage: *\n\s+TLS Web Client Authentication\n/);
      expect(text).not.toContain('E-mail Protection');
      expect(text).toMatch(/X509v3 Subject Alternative Name: *\n\s+email:alice@example.test\n/);
      // serialNumber = the serial (unique per certificate: Dovecot's ssl_cert_username_field), then CN = the address.
      expect(text).toContain(`Subject: serialNumber = ${serial}, CN = alice@example.test\n`);
      expect(openssl(['x509', '-in', leafFile, '-noout', '-subject', '-nameopt', 'RFC2253']).trim()).toBe(`subject=CN=alice@example.test,serialNumber=${serial}`);
      expect(text).not.toContain('CRL Distribution Points');
      expect(text).toContain(`Issuer: O = Mailca Tests, CN = Mailca Test CA ${caAlgorithm}`);

      const caSki = openssl(['x509', '-in', caFile, '-noout', '-ext', 'subjectKeyIdentifier']).trim().split('\n')[1]?.trim();
      expect(text).toMatch(new RegExp(`Authority Key Identifier: *\\n\\s+${caSki}\\n`));
      expect(text).toMatch(/Subject Key Identifier: *\n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);

      expect(openssl(['x509', '-in', leafFile, '-noout', '-serial']).trim()).toBe(`serial=${serial.toUpperCase()}`);
      expect(issued.serial).toBe(serial);
      expect(issued.subject).toBe(`CN=alice@example.test,serialNumber=${serial}`);
      expect(issued.fingerprintSha256).toBe(new X509Certificate(issued.der).fingerprint256.replaceAll(':', '').toLowerCase());
      expect(issued.spkiSha256).toBe(sha256Hex(spkiOf(leafKey)));
      expect(new X509Certificate(issued.der).publicKey.export({ type: 'spki', format: 'der' }).equals(spkiOf(leafKey))).toBe(true);
    });

    it('adds E-mail Protection and the CRL distribution point only when asked', async () => {
      const issued = await issueLeafCertificate({
        signer,
        caCertificateDer: ca.der,
        email: 'bob.smith+mail@example.test',
        subjectPublicKeySpki: spkiOf(generateLeafKey(leafKeyType)),
        serial: newSerial(),
        notBefore: now,
        notAfter: new Date(now.getTime() + 30 * DAY_MS),
        crlDistributionUrl: 'http://pki.example.test/mailca.crl',
        emailProtection: true,
      });
      const leafFile = tmp.write(`leaf-${caAlgorithm}-${leafKeyType}-full.pem`, issued.pem);
      expect(opensslAll(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', caFile, leafFile])).toContain(': OK');
      expect(opensslAll(['verify', '-purpose', 'smimesign', '-CAfile', caFile, leafFile])).toContain(': OK');
      const text = openssl(['x509', '-in', leafFile, '-text', '-noout']);
      expect(text).toMatch(/X509v3 Extended Key Usage: *\n\s+TLS Web Client Authentication, E-mail Protection\n/);
      expect(text).toMatch(/X509v3 CRL Distribution Points: *\n\s+Full Name:\n\s+URI:http:\/\/pki.example.test\/mailca.crl\n/);
      expect(text).toMatch(/email:bob.smith\+mail@example.test\n/);
      expect(issued.subject).toBe(`CN=bob.smith\\+mail@example.test,serialNumber=${issued.serial}`);
    });
  });
});

describe('validity encoding', () => {
  it('truncates to whole seconds and uses GeneralizedTime from 2050 on', async () => {
    const signer = new FileSigner(generateCaKeyPair('P-256').privateKey);
    const notBefore = new Date('2049-12-31T23:59:59.750Z');
    const ca = await createCaCertificate({ signer, commonName: 'Long CA', serial: newSerial(), notBefore, notAfter: new Date('2070-01-01T00:00:00Z') });
    const issued = await issueLeafCertificate({
      signer,
      caCertificateDer: ca.der,
      email: 'carol@example.test',
      subjectPublicKeySpki: spkiOf(generateLeafKey('P-256')),
      serial: newSerial(),
      notBefore,
      notAfter: new Date('2050-06-01T12:00:00.999Z'),
    });
    expect(issued.notBefore.toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(issued.notAfter.toISOString()).toBe('2050-06-01T12:00:00.000Z');
    const dump = openssl(['asn1parse', '-inform', 'DER', '-in', tmp.write('leaf-2050.der', issued.der)]);
    expect(dump).toContain('UTCTIME           :491231235959Z');
    expect(dump).toContain('GENERALIZEDTIME   :20500601120000Z');
  });
});

describe('fingerprint helpers', () => {
  it('formats lowercase hex as colon-separated upper case', () => {
    expect(formatFingerprintColons('ab01ff')).toBe('AB:01:FF');
    expect(() => formatFingerprintColons('abc')).toThrow();
    expect(fingerprintSha256Hex(new Uint8Array([1, 2, 3]))).toBe('039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81');
  });
});
