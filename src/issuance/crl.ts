import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Extension, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { bytesEqual } from './bytes.ts';
import { readCaCertificate } from './ca-certificate.ts';
import { crlEntrySerialTlv, encodeCrlEntry, type CrlEntry } from './crl-entry.ts';
import { derHeaderSize, derTimeSize, derUnsignedInteger, writeDerHeader, writeDerTime } from './der.ts';
import { TimeSlicer } from '../time-slice.ts';
import { authorityKeyIdentifierExtension } from './extensions.ts';
import { signAndWrap } from './signed-object.ts';
import { signatureAlgorithmFor, type Signer } from './signer.ts';
import { assertBefore, toCertificateTime } from './validation.ts';

export type { CrlEntry } from './crl-entry.ts';

const TAG_SEQUENCE = 0x30;
const TAG_EXPLICIT_0 = 0xa0;
/** version INTEGER v2 (1). */
const VERSION_V2 = Uint8Array.of(0x02, 0x01, 0x01);

// RFC 5280 5.2.3: CRL numbers are at most 20 octets.
const MAX_CRL_NUMBER = (1n << 159n) - 1n;

function crlNumberExtension(crlNumber: bigint): Extension {
  if (crlNumber < 0n || crlNumber > MAX_CRL_NUMBER) throw new Error(`CRL number ${crlNumber} is outside 0..2^159-1`);
  // Encoded by hand: asn1-x509's CRLNumber holds a JS number, which cannot carry a bigint.
  return new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(derUnsignedInteger(crlNumber)) });
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Numeric order of two non-negative DER INTEGER TLVs (minimal encodings: a longer one is larger). */
function compareSerialTlvs(a: Uint8Array, b: Uint8Array): number {
  if (a.byteLength !== b.byteLength) return a.byteLength - b.byteLength;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Refuses a serial listed twice. Entries in ascending serial order (what the publisher passes) are
 * proved distinct by comparing neighbours; otherwise a Set of the serial INTEGER bytes (as latin1 keys).
 */
async function assertDistinctSerials(encodedEntries: readonly Uint8Array[], slicer: TimeSlicer): Promise<void> {
  let previous: Uint8Array | undefined;
  let ascending = true;
  for (const entry of encodedEntries) {
    const serialTlv = crlEntrySerialTlv(entry);
    if (previous && compareSerialTlvs(previous, serialTlv) >= 0) ascending = false;
    previous = serialTlv;
    if (slicer.due()) await slicer.yield();
  }
  if (ascending) return;
  const seen = new Set<string>();
  for (const entry of encodedEntries) {
    const serialTlv = crlEntrySerialTlv(entry);
    const key = Buffer.from(serialTlv.buffer, serialTlv.byteOffset, serialTlv.byteLength).toString('latin1');
    if (seen.has(key)) throw new Error(`CRL entry ${hex(serialTlv.subarray(2))} appears twice`);
    seen.add(key);
    if (slicer.due()) await slicer.yield();
  }
}

/** PEM armour for a large DER object, written a slice at a time (the same text as encoding.ts's toPem). */
export async function toPemInSlices(der: Uint8Array, label: string, slicer = new TimeSlicer()): Promise<string> {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) {
    lines.push(base64.slice(i, i + 64));
    if (slicer.due()) await slicer.yield();
  }
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * A complete v2 CRL from entries already encoded by encodeCrlEntry (stored at revocation). The TBSCertList is
 * sized first, allocated once, and the entries are copied in: no per-entry ASN.1 objects. Each entry's shape
 * is checked and a serial listed twice is refused.
 */
export async function buildCrlFromEncodedEntries(opts: {
  signer: Signer;
  caCertificateDer: Uint8Array;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  encodedEntries: readonly Uint8Array[];
}): Promise<{ der: Uint8Array; pem: string }> {
  const ca = readCaCertificate(opts.caCertificateDer);
  if (!bytesEqual(opts.signer.publicKeySpki, ca.subjectPublicKeySpki)) {
    throw new Error("Signer key does not match the CA certificate's public key");
  }
  const thisUpdate = toCertificateTime(opts.thisUpdate, 'thisUpdate');
  const nextUpdate = toCertificateTime(opts.nextUpdate, 'nextUpdate');
  assertBefore(thisUpdate, nextUpdate, 'thisUpdate', 'nextUpdate');
  // No synchronous slice of the build lasts more than a few ms, however many entries.
  const slicer = new TimeSlicer();
  await assertDistinctSerials(opts.encodedEntries, slicer);

  const signature = new Uint8Array(AsnConvert.serialize(signatureAlgorithmFor(opts.signer.keyAlgorithm)));
  const akiExtension = new Uint8Array(AsnConvert.serialize(authorityKeyIdentifierExtension(ca.subjectKeyIdentifier)));
  const crlNumber = new Uint8Array(AsnConvert.serialize(crlNumberExtension(opts.crlNumber)));

  let entriesLength = 0;
  for (const entry of opts.encodedEntries) entriesLength += entry.byteLength;
  // RFC 5280 5.1.2.6: revokedCertificates is absent, not an empty SEQUENCE, when nothing is revoked.
  const revokedSize = opts.encodedEntries.length > 0 ? derHeaderSize(entriesLength) + entriesLength : 0;
  const extensionsLength = akiExtension.byteLength + crlNumber.byteLength;
  const extensionsSize = derHeaderSize(extensionsLength) + extensionsLength;
  const tbsLength =
    VERSION_V2.byteLength +
    signature.byteLength +
    ca.subjectDer.byteLength +
    derTimeSize(thisUpdate) +
    derTimeSize(nextUpdate) +
    revokedSize +
    derHeaderSize(extensionsSize) +
    extensionsSize;

  const tbs = new Uint8Array(derHeaderSize(tbsLength) + tbsLength);
  let offset = writeDerHeader(tbs, 0, TAG_SEQUENCE, tbsLength);
  for (const part of [VERSION_V2, signature, ca.subjectDer]) {
    tbs.set(part, offset);
    offset += part.byteLength;
  }
  offset = writeDerTime(tbs, offset, thisUpdate);
  offset = writeDerTime(tbs, offset, nextUpdate);
  if (opts.encodedEntries.length > 0) {
    offset = writeDerHeader(tbs, offset, TAG_SEQUENCE, entriesLength);
    for (const entry of opts.encodedEntries) {
      tbs.set(entry, offset);
      offset += entry.byteLength;
      if (slicer.due()) await slicer.yield();
    }
  }
  offset = writeDerHeader(tbs, offset, TAG_EXPLICIT_0, extensionsSize);
  offset = writeDerHeader(tbs, offset, TAG_SEQUENCE, extensionsLength);
  tbs.set(akiExtension, offset);
  tbs.set(crlNumber, offset + akiExtension.byteLength);
  if (offset + extensionsLength !== tbs.byteLength) throw new Error('CRL: TBSCertList size mismatch');

  const der = await signAndWrap(opts.signer, tbs);
  return { der, pem: await toPemInSlices(der, 'X509 CRL', slicer) };
}

/** A complete v2 CRL from plain entries: each is validated and encoded (encodeCrlEntry), then assembled. */
export async function buildCrl(opts: {
  signer: Signer;
  caCertificateDer: Uint8Array;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: Iterable<CrlEntry>;
}): Promise<{ der: Uint8Array; pem: string }> {
  const encodedEntries: Uint8Array[] = [];
  const slicer = new TimeSlicer();
  for (const entry of opts.entries) {
    encodedEntries.push(encodeCrlEntry(entry));
    if (slicer.due()) await slicer.yield();
  }
  const { entries: _entries, ...rest } = opts;
  return buildCrlFromEncodedEntries({ ...rest, encodedEntries });
}
