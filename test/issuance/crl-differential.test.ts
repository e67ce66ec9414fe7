import { AsnIntegerBigIntConverter } from '@peculiar/asn1-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRevokedCertificate } from '../../src/issuance/crl-entry.ts';
import { derChildren } from '../../src/issuance/der.ts';
import {
  FileSigner,
  REVOCATION_REASONS,
  buildCrl,
  buildCrlFromEncodedEntries,
  createCaCertificate,
  encodeCrlEntry,
  generateCaKeyPair,
  newSerial,
  type CrlEntry,
  type KeyAlgorithm,
  type RevocationReason,
} from '../../src/issuance/index.ts';
import { DAY_MS, makeTempDir, opensslAll, type TempDir } from './helpers.ts';
import { referenceEntryDer, referenceTbsCertList, type ReferenceEntry } from './crl-reference.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

// The hand-written CRL DER against the @peculiar/asn1-x509 construction it replaced, over seeded random inputs.


type Random = () => number;
const int = (rng: Random, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T,>(rng: Random, items: readonly T[]): T => items[int(rng, 0, items.length - 1)] as T;
const bytes = (rng: Random, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(rng, 0, 255));

const FIRST_SECOND = Date.UTC(1950, 0, 1) / 1000;
const LAST_SECOND = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;
const EDGE_DATES = [
  Date.UTC(1950, 0, 1),
  Date.UTC(1999, 11, 31, 23, 59, 59),
  Date.UTC(2000, 0, 1),
  Date.UTC(2049, 11, 31, 23, 59, 59),
  Date.UTC(2050, 0, 1),
  Date.UTC(2050, 0, 1, 0, 0, 1),
  Date.UTC(9999, 11, 31, 23, 59, 59),
];

/** A whole-second date: edges of the UTCTime/GeneralizedTime split, around 2050, or anywhere in 1950..9999. */
function randomWholeSecondDate(rng: Random): Date {
  const kind = rng();
  if (kind < 0.1) return new Date(pick(rng, EDGE_DATES));
  if (kind < 0.6) return new Date(int(rng, Date.UTC(2020, 0, 1) / 1000, Date.UTC(2080, 0, 1) / 1000) * 1000);
  return new Date(int(rng, FIRST_SECOND, LAST_SECOND) * 1000);
}

/** An unsigned serial of 1..20 octets (sometimes far longer), often with the high bit set or leading zeros. */
function randomSerialMagnitude(rng: Random): Uint8Array {
  const length = rng() < 0.05 ? int(rng, 21, 140) : int(rng, 1, 20);
  const serial = bytes(rng, length);
  const kind = rng();
  if (kind < 0.3) serial[0] = int(rng, 0x80, 0xff);
  else if (kind < 0.4) serial[0] = 0x80;
  else if (kind < 0.5 && length > 1) serial.fill(0, 0, int(rng, 1, length - 1));
  return serial;
}

/** The INTEGER content octets asn1js itself produces for this unsigned value (independent of mailca's DER). */
function asn1jsIntegerContent(magnitude: Uint8Array): Uint8Array {
  const value = BigInt(`0x${Buffer.from(magnitude).toString('hex') || '0'}`);
  return new Uint8Array(AsnIntegerBigIntConverter.toASN(value).valueBlock.valueHexView);
}

const REASON_CODES = Object.values(REVOCATION_REASONS);
const randomReasonCode = (rng: Random): number | undefined => (rng() < 0.2 ? undefined : pick(rng, REASON_CODES));

function randomEntry(rng: Random): { magnitude: Uint8Array; reference: ReferenceEntry } {
  const magnitude = randomSerialMagnitude(rng);
  return { magnitude, reference: { serialContent: asn1jsIntegerContent(magnitude), revokedAt: randomWholeSecondDate(rng), reasonCode: randomReasonCode(rng) } };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('writeRevokedCertificate', () => {
  it('matches @peculiar/asn1-x509 on 20,000 random entries (serials of 1..140 octets, all reasons, 1950..9999)', () => {
    const rng = seededRandom(0x5eed0001);
    let highBitSerials = 0;
    let generalizedTimes = 0;
    for (let i = 0; i < 20_000; i++) {
      const { magnitude, reference } = randomEntry(rng);
      const ours = writeRevokedCertificate(magnitude, reference.revokedAt, reference.reasonCode);
      const theirs = referenceEntryDer(reference);
      if (hex(ours) !== hex(theirs)) {
        expect.fail(`entry ${i}: serial ${hex(magnitude)} at ${reference.revokedAt.toISOString()} code ${reference.reasonCode}\n ours ${hex(ours)}\n ref  ${hex(theirs)}`);
      }
      if ((reference.serialContent[0] ?? 0) === 0 && reference.serialContent.length > 1) highBitSerials++;
      if (reference.revokedAt.getUTCFullYear() >= 2050) generalizedTimes++;
    }
    // The inputs did cover what they are meant to.
    expect(highBitSerials).toBeGreaterThan(4_000);
    expect(generalizedTimes).toBeGreaterThan(4_000);
  });

  it('writes no crlEntryExtensions without a reason code, and a non-critical reasonCode with one', () => {
    const at = new Date(Date.UTC(2030, 5, 15, 12, 0, 0));
    const time = `170d${hex(Buffer.from('300615120000Z'))}`;
    expect(hex(writeRevokedCertificate(Uint8Array.of(0x80), at, undefined))).toBe(`3013020200801${time.slice(1)}`);
    expect(hex(writeRevokedCertificate(Uint8Array.of(0, 0, 1), at, 1))).toBe(`3020020101${time}300c300a0603551d1504030a0101`);
  });
});

describe('encodeCrlEntry', () => {
  const reasons = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).filter((r) => r !== 'removeFromCRL');

  it('matches @peculiar/asn1-x509 on 5,000 random mailca entries (milliseconds dropped, unspecified without extensions)', () => {
    const rng = seededRandom(0x5eed0002);
    for (let i = 0; i < 5_000; i++) {
      const serial = bytes(rng, 16);
      serial[0] = int(rng, 1, 0x7f);
      const revokedAt = new Date(randomWholeSecondDate(rng).getTime() + int(rng, 0, 999));
      const entry: CrlEntry = { serial: hex(serial), revokedAt, reason: pick(rng, reasons) };
      const reference = referenceEntryDer({
        serialContent: serial,
        revokedAt: new Date(Math.floor(revokedAt.getTime() / 1000) * 1000),
        reasonCode: entry.reason === 'unspecified' ? undefined : REVOCATION_REASONS[entry.reason],
      });
      expect(hex(encodeCrlEntry(entry)), JSON.stringify(entry)).toBe(hex(reference));
    }
  });

  it('refuses removeFromCRL, unknown reasons, bad serials and bad dates', () => {
    const serial = newSerial();
    const now = new Date();
    expect(() => encodeCrlEntry({ serial, revokedAt: now, reason: 'removeFromCRL' })).toThrow(/delta CRLs/);
    expect(() => encodeCrlEntry({ serial, revokedAt: now, reason: 'bogus' as RevocationReason })).toThrow(/unknown reason/);
    expect(() => encodeCrlEntry({ serial, revokedAt: now, reason: 'toString' as RevocationReason })).toThrow(/unknown reason/);
    for (const bad of ['ff'.repeat(16), '00'.repeat(16), '01'.repeat(15), '01'.repeat(17), 'AB'.repeat(16), 'zz'.repeat(16), '']) {
      expect(() => encodeCrlEntry({ serial: bad, revokedAt: now, reason: 'superseded' }), bad).toThrow(/Invalid serial/);
    }
    expect(() => encodeCrlEntry({ serial, revokedAt: new Date(Number.NaN), reason: 'superseded' })).toThrow(/not a valid date/);
    expect(() => encodeCrlEntry({ serial, revokedAt: new Date(Date.UTC(1949, 11, 31)), reason: 'superseded' })).toThrow(/outside 1950/);
  });
});

interface TestCa {
  alg: KeyAlgorithm;
  signer: FileSigner;
  der: Uint8Array;
  file: string;
}

const ALGORITHMS: KeyAlgorithm[] = ['P-256', 'P-384', 'RSA-3072'];
let tmp: TempDir;
const cas: TestCa[] = [];
beforeAll(async () => {
  tmp = makeTempDir();
  const now = Date.now();
  for (const alg of ALGORITHMS) {
    // Two issuers per key type: a short ASCII name and a long non-ASCII one (different issuer lengths).
    for (const commonName of [`CRL ${alg}`, `Zertifizierungsstelle Müller & Söhne ${alg} ${'x'.repeat(16)}`]) {
      const signer = new FileSigner(generateCaKeyPair(alg).privateKey);
      const ca = await createCaCertificate({ signer, commonName, serial: newSerial(), notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 365 * DAY_MS) });
      cas.push({ alg, signer, der: ca.der, file: tmp.write(`ca-${cas.length}.pem`, ca.pem) });
    }
  }
});
afterAll(() => tmp.remove());

function randomCrlNumber(rng: Random): bigint {
  const octets = int(rng, 1, 20);
  const value = BigInt(`0x${hex(bytes(rng, octets))}`);
  return octets === 20 ? value >> 1n : value; // at most 2^159-1
}

/** 0, 1, a few, or (rarely) thousands of entries with distinct serials. */
function randomEntries(rng: Random): { encoded: Uint8Array[]; reference: ReferenceEntry[] } {
  const kind = rng();
  const count = kind < 0.15 ? 0 : kind < 0.3 ? 1 : kind < 0.98 ? int(rng, 2, 60) : int(rng, 1_000, 4_000);
  const seen = new Set<string>();
  const encoded: Uint8Array[] = [];
  const reference: ReferenceEntry[] = [];
  while (encoded.length < count) {
    const entry = randomEntry(rng);
    const key = hex(entry.reference.serialContent);
    if (seen.has(key)) continue;
    seen.add(key);
    encoded.push(writeRevokedCertificate(entry.magnitude, entry.reference.revokedAt, entry.reference.reasonCode));
    reference.push(entry.reference);
  }
  return { encoded, reference };
}

describe.each(ALGORITHMS)('buildCrlFromEncodedEntries with a %s CA', (alg) => {
  it('writes the same TBSCertList bytes as @peculiar/asn1-x509 for 600 random CRLs', async () => {
    const rng = seededRandom(0x5eed1000 + ALGORITHMS.indexOf(alg));
    const issuers = cas.filter((ca) => ca.alg === alg);
    let withEntries = 0;
    let verified = 0;
    for (let i = 0; i < 600; i++) {
      const ca = pick(rng, issuers);
      const { encoded, reference } = randomEntries(rng);
      const thisUpdate = randomWholeSecondDate(rng);
      const nextUpdate = new Date(Math.min(LAST_SECOND * 1000, thisUpdate.getTime() + int(rng, 1, 200 * 365) * DAY_MS));
      if (nextUpdate.getTime() <= thisUpdate.getTime()) continue;
      const crlNumber = randomCrlNumber(rng);
      const crl = await buildCrlFromEncodedEntries({ signer: ca.signer, caCertificateDer: ca.der, crlNumber, thisUpdate, nextUpdate, encodedEntries: encoded });
      const tbs = derChildren(crl.der)[0] ?? new Uint8Array();
      const expected = referenceTbsCertList({ keyAlgorithm: alg, caCertificateDer: ca.der, crlNumber, thisUpdate, nextUpdate, entries: reference });
      if (hex(tbs) !== hex(expected)) {
        expect.fail(`CRL ${i} (${encoded.length} entries, #${crlNumber}, ${thisUpdate.toISOString()}..${nextUpdate.toISOString()}) differs from the reference`);
      }
      if (encoded.length > 0) withEntries++;
      // openssl checks a sample of them (its own parser, and the signature over exactly these bytes).
      if (i % 100 === 0) {
        const file = tmp.write(`random-${alg}-${i}.pem`, crl.pem);
        expect(opensslAll(['crl', '-in', file, '-CAfile', ca.file, '-verify', '-noout'])).toContain('verify OK');
        verified++;
      }
    }
    expect(withEntries).toBeGreaterThan(400);
    expect(verified).toBe(6);
  });
});

describe('buildCrlFromEncodedEntries', () => {
  const now = new Date();
  const options = (encodedEntries: Uint8Array[]) => {
    const ca = cas[0] as TestCa;
    return { signer: ca.signer, caCertificateDer: ca.der, crlNumber: 5n, thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY_MS), encodedEntries };
  };

  it('refuses a serial listed twice, even with another date or reason', async () => {
    const serial = newSerial();
    const first = encodeCrlEntry({ serial, revokedAt: now, reason: 'superseded' });
    const again = encodeCrlEntry({ serial, revokedAt: new Date(now.getTime() - DAY_MS), reason: 'keyCompromise' });
    const other = encodeCrlEntry({ serial: newSerial(), revokedAt: now, reason: 'superseded' });
    await expect(buildCrlFromEncodedEntries(options([first, other, again]))).rejects.toThrow(new RegExp(`${serial} appears twice`));
    await expect(buildCrlFromEncodedEntries(options([first, other]))).resolves.toBeDefined();
  });

  it('refuses bytes that are not a single RevokedCertificate', async () => {
    const entry = encodeCrlEntry({ serial: newSerial(), revokedAt: now, reason: 'superseded' });
    const trailing = Uint8Array.from([...entry, 0x00]);
    for (const bad of [entry.subarray(0, entry.length - 1), trailing, Uint8Array.of(0x31, 0x00), Uint8Array.of(0x30, 0x02, 0x04, 0x00), Uint8Array.of(0x30, 0x02, 0x02, 0x05), new Uint8Array()]) {
      await expect(buildCrlFromEncodedEntries(options([bad])), hex(bad)).rejects.toThrow(/Encoded CRL entry/);
    }
  });

  it('is what buildCrl produces for the same entries', async () => {
    const entries: CrlEntry[] = Array.from({ length: 50 }, (_, i) => ({ serial: newSerial(), revokedAt: new Date(now.getTime() - i * 1000), reason: i % 2 ? 'keyCompromise' : 'unspecified' }));
    const rsa = cas.find((ca) => ca.alg === 'RSA-3072') as TestCa;
    const common = { signer: rsa.signer, caCertificateDer: rsa.der, crlNumber: 9n, thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY_MS) };
    // RSA PKCS#1 v1.5 signatures are deterministic, so the whole CRL is comparable.
    const viaEntries = await buildCrl({ ...common, entries });
    const viaEncoded = await buildCrlFromEncodedEntries({ ...common, encodedEntries: entries.map(encodeCrlEntry) });
    expect(viaEncoded.pem).toBe(viaEntries.pem);
  });
});
