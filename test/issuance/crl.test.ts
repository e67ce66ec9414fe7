import 'reflect-metadata';
import { X509Crl } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FileSigner,
  buildCrl,
  createCaCertificate,
  generateCaKeyPair,
  newSerial,
  type CrlEntry,
  type KeyAlgorithm,
  type RevocationReason,
} from '../../src/issuance/index.ts';
import { exactArrayBuffer } from '../../src/issuance/bytes.ts';
import { DAY_MS, makeTempDir, openssl, opensslAll, type TempDir } from './helpers.ts';

const now = new Date();
let tmp: TempDir;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.remove());

async function makeCa(alg: KeyAlgorithm): Promise<{ signer: FileSigner; der: Uint8Array; file: string }> {
  const signer = new FileSigner(generateCaKeyPair(alg).privateKey);
  const ca = await createCaCertificate({
    signer,
    commonName: `CRL CA ${alg}`,
    serial: newSerial(),
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 365 * DAY_MS),
  });
  return { signer, der: ca.der, file: tmp.write(`ca-${alg}.pem`, ca.pem) };
}

/** The entry blocks of `openssl crl -text`, keyed by upper-case serial. */
function entryBlocks(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const block of text.split('Serial Number: ').slice(1)) {
    const serial = block.slice(0, block.indexOf('\n')).trim();
    blocks.set(serial, block.split('Signature Algorithm')[0] ?? '');
  }
  return blocks;
}

describe.each<KeyAlgorithm>(['P-256', 'P-384', 'RSA-3072'])('CRL signed by a %s CA', (alg) => {
  it('has the entries, reasons and CRL number, and verifies', async () => {
    const ca = await makeCa(alg);
    const entries: CrlEntry[] = [
      { serial: newSerial(), revokedAt: new Date(now.getTime() - 3 * DAY_MS), reason: 'keyCompromise' },
      { serial: newSerial(), revokedAt: new Date(now.getTime() - 2 * DAY_MS), reason: 'superseded' },
      { serial: newSerial(), revokedAt: new Date(now.getTime() - DAY_MS), reason: 'unspecified' },
      { serial: newSerial(), revokedAt: now, reason: 'cessationOfOperation' },
    ];
    const crl = await buildCrl({
      signer: ca.signer,
      caCertificateDer: ca.der,
      crlNumber: 42n,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 7 * DAY_MS),
      entries,
    });
    const crlFile = tmp.write(`crl-${alg}.pem`, crl.pem);
    expect(opensslAll(['crl', '-in', crlFile, '-CAfile', ca.file, '-verify', '-noout'])).toContain('verify OK');

    const text = openssl(['crl', '-in', crlFile, '-text', '-noout']);
    expect(text).toContain('Version 2 (0x1)');
    expect(text).toContain(`Issuer: CN = CRL CA ${alg}`);
    expect(text).toMatch(/X509v3 CRL Number: *\n\s+42\n/);
    expect(text).toMatch(/X509v3 Authority Key Identifier: *\n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);

    const blocks = entryBlocks(text);
    expect(blocks.size).toBe(4);
    const expectedText: Record<RevocationReason, string> = {
      keyCompromise: 'Key Compromise',
      superseded: 'Superseded',
      cessationOfOperation: 'Cessation Of Operation',
    } as Record<RevocationReason, string>;
    for (const entry of entries) {
      const block = blocks.get(entry.serial.toUpperCase());
      expect(block, entry.serial).toBeDefined();
      if (entry.reason === 'unspecified') {
        expect(block).not.toContain('CRL entry extensions');
      } else {
        expect(block).toMatch(new RegExp(`CRL Reason Code: *\\n\\s+${expectedText[entry.reason]}\\n`));
      }
    }
  });
});

describe('buildCrl', () => {
  let ca: { signer: FileSigner; der: Uint8Array; file: string };
  beforeAll(async () => {
    ca = await makeCa('P-256');
  });

  function crlOptions(entries: Iterable<CrlEntry>) {
    return { signer: ca.signer, caCertificateDer: ca.der, crlNumber: 1n, thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY_MS), entries };
  }

  it('encodes an unspecified entry with no crlEntryExtensions at all (never an empty SEQUENCE)', async () => {
    const crl = await buildCrl(crlOptions([{ serial: newSerial(), revokedAt: now, reason: 'unspecified' }]));
    const dump = openssl(['asn1parse', '-inform', 'DER', '-in', tmp.write('one-unspecified.der', crl.der)]);
    // The entry is SEQUENCE { INTEGER, UTCTIME } and nothing else; the only OIDs are the CRL extensions' and signature's.
    expect(dump).toMatch(/cons: SEQUENCE\s*\n.*prim: INTEGER\s+:[0-9A-F]{32}\n.*prim: UTCTIME\s+:\d{12}Z\n.*cont \[ 0 \]/);
    expect(dump).not.toContain('X509v3 CRL Reason Code');
  });

  it('omits revokedCertificates when nothing is revoked', async () => {
    const crl = await buildCrl(crlOptions([]));
    const crlFile = tmp.write('empty.pem', crl.pem);
    expect(opensslAll(['crl', '-in', crlFile, '-CAfile', ca.file, '-verify', '-noout'])).toContain('verify OK');
    expect(openssl(['crl', '-in', crlFile, '-text', '-noout'])).toContain('No Revoked Certificates.');
  });

  it('encodes a CRL number beyond 2^64', async () => {
    const crl = await buildCrl({ ...crlOptions([]), crlNumber: 2n ** 100n + 7n });
    const text = openssl(['crl', '-in', tmp.write('big-number.pem', crl.pem), '-text', '-noout']);
    expect(text).toMatch(new RegExp(`X509v3 CRL Number: *\\n\\s+${(2n ** 100n + 7n).toString()}\\n`));
  });

  it('refuses duplicates, removeFromCRL, unknown reasons, bad serials, bad dates and negative CRL numbers', async () => {
    const serial = newSerial();
    await expect(buildCrl(crlOptions([{ serial, revokedAt: now, reason: 'superseded' }, { serial, revokedAt: now, reason: 'superseded' }]))).rejects.toThrow(/twice/);
    await expect(buildCrl(crlOptions([{ serial, revokedAt: now, reason: 'removeFromCRL' }]))).rejects.toThrow(/delta CRLs/);
    await expect(buildCrl(crlOptions([{ serial, revokedAt: now, reason: 'bogus' as RevocationReason }]))).rejects.toThrow(/unknown reason/);
    await expect(buildCrl(crlOptions([{ serial: 'ff'.repeat(16), revokedAt: now, reason: 'superseded' }]))).rejects.toThrow(/Invalid serial/);
    await expect(buildCrl(crlOptions([{ serial, revokedAt: new Date(Number.NaN), reason: 'superseded' }]))).rejects.toThrow(/not a valid date/);
    await expect(buildCrl({ ...crlOptions([]), nextUpdate: now })).rejects.toThrow(/must be before/);
    await expect(buildCrl({ ...crlOptions([]), crlNumber: -1n })).rejects.toThrow(/CRL number/);
  });

  it('builds and verifies a 20,000-entry CRL', async () => {
    const reasons: RevocationReason[] = ['unspecified', 'keyCompromise', 'superseded', 'affiliationChanged'];
    const makeEntries = (count: number): CrlEntry[] =>
      Array.from({ length: count }, (_, i) => ({ serial: newSerial(), revokedAt: new Date(now.getTime() - i * 1000), reason: reasons[i % reasons.length] ?? 'unspecified' }));

    const small = makeEntries(5_000);
    let started = performance.now();
    await buildCrl(crlOptions(small));
    const smallMs = performance.now() - started;

    const large = makeEntries(20_000);
    started = performance.now();
    const crl = await buildCrl(crlOptions(large));
    const largeMs = performance.now() - started;
    console.log(`buildCrl: 5,000 entries ${smallMs.toFixed(0)} ms, 20,000 entries ${largeMs.toFixed(0)} ms (ratio ${(largeMs / smallMs).toFixed(1)})`);

    const crlFile = tmp.write('crl-20k.pem', crl.pem);
    expect(opensslAll(['crl', '-in', crlFile, '-CAfile', ca.file, '-verify', '-noout'])).toContain('verify OK');
    const text = openssl(['crl', '-in', crlFile, '-text', '-noout']);
    expect(text.split('Serial Number: ').length - 1).toBe(20_000);
    expect(text.split('CRL Reason Code').length - 1).toBe(15_000);

    // @peculiar/x509 reads it too, with asn1js's node limit raised: for our own CRLs only, never for input.
    const der = exactArrayBuffer(crl.der);
    expect(() => new X509Crl(der)).toThrow();
    const parsed = new X509Crl(der, { berOptions: { maxNodes: Number.POSITIVE_INFINITY } });
    expect(parsed.entries).toHaveLength(20_000);
    expect(parsed.nextUpdate?.getTime()).toBe(Math.floor((now.getTime() + DAY_MS) / 1000) * 1000);
    const expectedReason = { unspecified: undefined, keyCompromise: 1, superseded: 4, affiliationChanged: 3 } as Record<RevocationReason, number | undefined>;
    for (const [i, entry] of parsed.entries.entries()) {
      const want = large[i] as CrlEntry;
      expect(entry.serialNumber).toBe(want.serial);
      expect(entry.revocationDate.getTime()).toBe(Math.floor(want.revokedAt.getTime() / 1000) * 1000);
      expect(entry.reason).toBe(expectedReason[want.reason]);
    }
  });
});
