import { execFileSync, spawnSync } from 'node:child_process';
import { ECDH, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/issuance/bytes.ts';
import { derChildren } from '../../src/issuance/der.ts';
import {
  FileSigner,
  LeafTemplate,
  createCaCertificate,
  generateCaKeyPair,
  issueLeafCertificate,
  leafTemplateFor,
  type IssuedCertificate,
  type KeyAlgorithm,
  type Signer,
} from '../../src/issuance/index.ts';
import { keyIdentifierOf } from '../../src/issuance/extensions.ts';
import { checkSubjectPublicKey, readSubjectPublicKey } from '../../src/issuance/subject-key.ts';
import { makeTempDir, opensslAll, spkiOf, type TempDir } from './helpers.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

// The template must produce exactly the certificates of issueLeafCertificate (the reference). ECDSA signatures
// are randomised, so both builders sign through one SignatureMemo: the second signing of identical
// TBSCertificate bytes returns the first signature, and any difference in the TBS shows as different DER.

/** Wraps a real signer; a repeated signing of the same bytes returns the earlier signature (once). */
class SignatureMemo implements Signer {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly publicKeySpki: Uint8Array;
  readonly #signatures = new Map<string, Uint8Array>();
  constructor(private readonly inner: Signer) {
    this.keyAlgorithm = inner.keyAlgorithm;
    this.publicKeySpki = inner.publicKeySpki;
  }
  async sign(data: Uint8Array): Promise<Uint8Array> {
    const key = sha256Hex(data);
    const earlier = this.#signatures.get(key);
    if (earlier) {
      this.#signatures.delete(key);
      return earlier;
    }
    const signature = await this.inner.sign(data);
    this.#signatures.set(key, signature);
    return signature;
  }
}


const MAILBOX_CHARS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== '@');
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function randomString(random: () => number, alphabet: string | string[], length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)];
  return out;
}

/** Addresses of 3–64 characters (the CN limit), with every printable character the profile allows. */
function randomAddress(random: () => number): string {
  const total = random() < 0.3 ? randomInt(random, 56, 64) : randomInt(random, 3, 64);
  const local = randomInt(random, 1, total - 2);
  const alphabet = random() < 0.5 ? ALNUM : MAILBOX_CHARS;
  return `${randomString(random, alphabet, local)}@${randomString(random, alphabet, total - local - 1)}`;
}

function randomSerial(random: () => number): string {
  const bytes = Array.from({ length: 16 }, () => randomInt(random, 0, 255));
  bytes[0] = randomInt(random, 1, 0x7f);
  return Buffer.from(bytes).toString('hex');
}

const CA_NOT_BEFORE = new Date('1950-01-01T00:00:00Z');
const CA_NOT_AFTER = new Date('2199-12-31T23:59:59Z');
const UTC_TIME_END = Date.parse('2050-01-01T00:00:00Z');

/** Validity anywhere in the CA's range, often close to the UTCTime/GeneralizedTime switch, with stray milliseconds. */
function randomValidity(random: () => number): { notBefore: Date; notAfter: Date } {
  const lo = CA_NOT_BEFORE.getTime();
  const hi = CA_NOT_AFTER.getTime();
  const around = (centre: number, spread: number) => Math.min(hi - 2000, Math.max(lo, centre + (random() * 2 - 1) * spread));
  const pick = random();
  const start = pick < 0.3 ? around(UTC_TIME_END, 3 * 86_400_000) : pick < 0.4 ? around(UTC_TIME_END, 5000) : lo + random() * (hi - lo - 2000);
  const end = Math.min(hi, start + 1000 + random() * (random() < 0.5 ? 10 * 86_400_000 : hi - start));
  return { notBefore: new Date(Math.floor(start)), notAfter: new Date(Math.floor(end)) };
}

/** CRL URLs of lengths on both sides of the 128- and 256-octet DER length boundaries. */
function randomCrlUrl(random: () => number): string | undefined {
  if (random() < 0.3) return undefined;
  const base = 'https://ca.example.test/';
  const length = [1, 20, 80, 95, 100, 101, 103, 110, 200, 220, 225, 228, 232, 240, 300, 600][randomInt(random, 0, 15)] ?? 1;
  return `${base}${randomString(random, ALNUM, length)}/crl/${randomInt(random, 1, 99999)}.der`;
}

function compressedEcSpki(publicKey: KeyObject): Uint8Array {
  // Same key, compressed point: both builders certify the SPKI as given (the CSR check canonicalises first).
  const spki = spkiOf(publicKey);
  const curve = publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'secp384r1' : 'prime256v1';
  const coordinateBytes = curve === 'secp384r1' ? 48 : 32;
  const point = spki.subarray(spki.length - (1 + 2 * coordinateBytes));
  const compressed = ECDH.convertKey(Buffer.from(point), curve, undefined, undefined, 'compressed') as Buffer;
  const prefix = spki.subarray(0, spki.length - point.length - 3);
  // Rebuild SEQUENCE { algorithm, BIT STRING } with the shorter point.
  const algorithm = prefix.subarray(2);
  const bitString = Buffer.concat([Buffer.from([0x03, compressed.length + 1, 0x00]), compressed]);
  const content = Buffer.concat([algorithm, bitString]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, content.length]), content]));
}

interface Ca {
  algorithm: KeyAlgorithm;
  signer: SignatureMemo;
  der: Uint8Array;
  pem: string;
}

async function makeCa(algorithm: KeyAlgorithm, commonName: string, organization?: string): Promise<Ca> {
  const signer = new SignatureMemo(new FileSigner(generateCaKeyPair(algorithm).privateKey));
  const ca = await createCaCertificate({ signer, commonName, organization, serial: randomSerial(Math.random), notBefore: CA_NOT_BEFORE, notAfter: CA_NOT_AFTER });
  return { algorithm, signer, der: ca.der, pem: ca.pem };
}

let rsaKeys: KeyObject[] = [];
beforeAll(() => {
  rsaKeys = [
    ...Array.from({ length: 3 }, () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
    generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey,
    generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey,
    generateKeyPairSync('rsa', { modulusLength: 4096 }).publicKey,
  ];
});

function randomSubjectKey(random: () => number): Uint8Array {
  const pick = random();
  if (pick < 0.35) return spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  if (pick < 0.6) return spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey);
  if (pick < 0.68) return compressedEcSpki(generateKeyPairSync('ec', { namedCurve: random() < 0.5 ? 'P-256' : 'P-384' }).publicKey);
  return spkiOf(rsaKeys[randomInt(random, 0, rsaKeys.length - 1)]!);
}

function summary(issued: IssuedCertificate): string {
  return JSON.stringify({ ...issued, der: Buffer.from(issued.der).toString('hex') });
}

const ITERATIONS_PER_CA_KEY = 800;
const CA_ALGORITHMS: [KeyAlgorithm, number][] = [
  ['P-256', 0x5eed0256],
  ['P-384', 0x5eed0384],
  ['RSA-3072', 0x5eed3072],
];

describe.each(CA_ALGORITHMS)('leaf template under a %s CA', (algorithm, seed) => {
  let cas: Ca[];
  beforeAll(async () => {
    // A short name and a long one (O + CN of 64 characters) move every later offset in the TBSCertificate.
    cas = [await makeCa(algorithm, 'C'), await makeCa(algorithm, `${'L'.repeat(50)} client CA ${algorithm}`.slice(0, 64), 'Mailca Differential Tests')];
  });

  it(`issues byte-identical certificates to issueLeafCertificate (${ITERATIONS_PER_CA_KEY} seeded inputs)`, async () => {
    const random = seededRandom(seed);
    const mismatches: string[] = [];
    const seenLengths = new Set<number>();
    for (let i = 0; i < ITERATIONS_PER_CA_KEY; i++) {
      const ca = cas[i % cas.length]!;
      const { notBefore, notAfter } = randomValidity(random);
      const profile = { crlDistributionUrl: randomCrlUrl(random), emailProtection: random() < 0.5 };
      const fields = { email: randomAddress(random), subjectPublicKeySpki: randomSubjectKey(random), serial: randomSerial(random), notBefore, notAfter };
      const reference = await issueLeafCertificate({ signer: ca.signer, caCertificateDer: ca.der, ...profile, ...fields });
      const template = leafTemplateFor({ signer: ca.signer, caCertificateDer: ca.der, ...profile });
      const fromTemplate = await template.issue(fields);
      seenLengths.add(reference.der.length);
      if (summary(reference) !== summary(fromTemplate)) {
        const referenceTbs = Buffer.from(derChildren(reference.der)[0]!).toString('hex');
        const templateTbs = Buffer.from(template.tbsCertificate(fields).tbs).toString('hex');
        mismatches.push(`#${i} ${JSON.stringify({ ...profile, ...fields, subjectPublicKeySpki: undefined })}\n  reference TBS ${referenceTbs}\n  template  TBS ${templateTbs}`);
        if (mismatches.length >= 3) break;
      }
    }
    expect(mismatches).toEqual([]);
    expect(seenLengths.size).toBeGreaterThan(50);
  }, 240_000);

  it('gives the same result for the same template fields (the tbsCertificate it signs is what issue embeds)', async () => {
    const ca = cas[0]!;
    const template = leafTemplateFor({ signer: ca.signer, caCertificateDer: ca.der });
    const fields = { email: 'a@b.test', subjectPublicKeySpki: spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), serial: randomSerial(Math.random), notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) };
    const issued = await template.issue(fields);
    expect(Buffer.from(derChildren(issued.der)[0]!).equals(Buffer.from(template.tbsCertificate(fields).tbs))).toBe(true);
    expect(leafTemplateFor({ signer: ca.signer, caCertificateDer: ca.der })).toBe(template);
    expect(leafTemplateFor({ signer: ca.signer, caCertificateDer: ca.der, emailProtection: true })).not.toBe(template);
  });
});

describe('leaf template certificates in other verifiers', () => {
  let tmp: TempDir;
  let nssDb: string;
  beforeAll(() => {
    tmp = makeTempDir();
    nssDb = `sql:${tmp.path}/nss`;
    execFileSync('mkdir', ['-p', `${tmp.path}/nss`]);
    execFileSync('certutil', ['-N', '-d', nssDb, '--empty-password'], { stdio: 'pipe' });
  });
  afterAll(() => tmp.remove());

  it.each(CA_ALGORITHMS)('openssl, GnuTLS certtool and NSS vfychain accept sampled certificates (%s CA)', async (algorithm, seed) => {
    const ca = await makeCa(algorithm, `Verifier CA ${algorithm}`, 'Mailca Tests');
    const caFile = tmp.write(`ca-${algorithm}.pem`, ca.pem);
    execFileSync('certutil', ['-A', '-d', nssDb, '-n', `ca-${algorithm}`, '-t', 'CT,C,C', '-a', '-i', caFile], { stdio: 'pipe' });
    const random = seededRandom(seed ^ 0xa5a5);
    const now = Date.now();
    for (let i = 0; i < 6; i++) {
      const email = `${randomString(random, ALNUM, randomInt(random, 1, 40))}.${i}@example.test`.slice(-60);
      const template = new LeafTemplate({
        signer: ca.signer,
        caCertificateDer: ca.der,
        emailProtection: i % 2 === 0,
        crlDistributionUrl: i % 3 === 0 ? undefined : `https://ca.example.test/crl/${randomInt(random, 1, 999)}.der`,
      });
      const subjectKey = i < 2 ? spkiOf(generateKeyPairSync('ec', { namedCurve: i === 0 ? 'P-256' : 'P-384' }).publicKey) : spkiOf(rsaKeys[i % rsaKeys.length]!);
      const issued = await template.issue({ email, subjectPublicKeySpki: subjectKey, serial: randomSerial(random), notBefore: new Date(now - 300_000), notAfter: new Date(now + 30 * 86_400_000) });
      const leafFile = tmp.write(`leaf-${algorithm}-${i}.pem`, issued.pem);
      const derFile = tmp.write(`leaf-${algorithm}-${i}.der`, issued.der);

      expect(opensslAll(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', caFile, leafFile])).toContain(': OK');

      const gnutls = spawnSync('certtool', ['--verify', '--load-ca-certificate', caFile, '--infile', leafFile, '--verify-purpose', '1.3.6.1.5.5.7.3.2', '--verify-email', email], { encoding: 'utf8' });
      expect(gnutls.status, `${gnutls.stdout}${gnutls.stderr}`).toBe(0);
      expect(gnutls.stdout).toContain('Chain verification output: Verified.');

      const nss = spawnSync('vfychain', ['-d', nssDb, '-pp', '-u', '0', '-r', derFile], { encoding: 'utf8' });
      expect(nss.status, `${nss.stdout}${nss.stderr}`).toBe(0);
      expect(nss.stderr).toContain('Chain is good!'); // vfychain reports on stderr
    }
  });

  it('openssl verifies a certificate whose validity is GeneralizedTime (after 2050) at a time inside it', async () => {
    const ca = await makeCa('P-256', 'Far Future CA');
    const caFile = tmp.write('ca-future.pem', ca.pem);
    const issued = await leafTemplateFor({ signer: ca.signer, caCertificateDer: ca.der }).issue({
      email: 'future@example.test',
      subjectPublicKeySpki: spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
      serial: randomSerial(Math.random),
      notBefore: new Date('2049-12-31T23:59:59Z'),
      notAfter: new Date('2075-06-01T00:00:00Z'),
    });
    const leafFile = tmp.write('leaf-future.pem', issued.pem);
    const attime = String(Date.parse('2060-01-01T00:00:00Z') / 1000);
    expect(opensslAll(['verify', '-x509_strict', '-attime', attime, '-purpose', 'sslclient', '-CAfile', caFile, leafFile])).toContain(': OK');
    const text = opensslAll(['x509', '-in', leafFile, '-noout', '-dates']);
    expect(text).toContain('notBefore=Dec 31 23:59:59 2049 GMT');
    expect(text).toContain('notAfter=Jun  1 00:00:00 2075 GMT');
  });
});

describe('readSubjectPublicKey (the key check of the template) against checkSubjectPublicKey', () => {
  type Verdict = { kind: string; keyIdentifier: string } | 'refused';
  const verdict = (read: () => { kind: string; keyIdentifier: Uint8Array }): Verdict => {
    try {
      const { kind, keyIdentifier } = read();
      return { kind, keyIdentifier: Buffer.from(keyIdentifier).toString('hex') };
    } catch (error) {
      expect((error as Error).message).toMatch(/Subject public key/);
      return 'refused';
    }
  };
  const reference = (spki: Uint8Array) =>
    verdict(() => {
      const checked = checkSubjectPublicKey(spki);
      return { kind: checked.kind, keyIdentifier: keyIdentifierOf(checked.info.subjectPublicKey) };
    });
  const fast = (spki: Uint8Array) =>
    verdict(() => {
      const read = readSubjectPublicKey(spki);
      return { kind: read.kind, keyIdentifier: keyIdentifierOf(new Uint8Array(read.subjectPublicKey).buffer) };
    });

  it('accepts and refuses the same keys, mutated ones included (never accepting what the reference refuses)', () => {
    const random = seededRandom(0x5b1c);
    const keys = [
      ...Array.from({ length: 4 }, () => spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)),
      ...Array.from({ length: 4 }, () => spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)),
      compressedEcSpki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
      ...rsaKeys.map(spkiOf),
    ];
    let accepted = 0;
    let refused = 0;
    for (const key of keys) expect(fast(key)).toEqual(reference(key));
    for (let i = 0; i < 3000; i++) {
      const mutated = Uint8Array.from(keys[randomInt(random, 0, keys.length - 1)]!);
      const at = random() < 0.3 ? randomInt(random, 0, 30) : randomInt(random, 0, mutated.length - 1);
      mutated[at]! ^= 1 << randomInt(random, 0, 7);
      const expected = reference(mutated);
      const actual = fast(mutated);
      if (actual === 'refused') refused++;
      else {
        accepted++;
        expect(actual, `mutation ${i}`).toEqual(expected);
      }
    }
    expect(accepted).toBeGreaterThan(100); // RSA moduli stay keys when a bit flips
    expect(refused).toBeGreaterThan(1000); // an EC point off the curve, broken structure
  });
});
