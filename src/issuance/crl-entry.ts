import { derHeaderSize, derTimeSize, unsignedIntegerContent, writeDerHeader, writeDerTime } from './der.ts';
import { REVOCATION_REASONS, isRevocationReason, type RevocationReason } from './revocation-reasons.ts';
import { serialToBytes } from './serial.ts';
import { toCertificateTime } from './validation.ts';

export interface CrlEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

const TAG_INTEGER = 0x02;
const TAG_SEQUENCE = 0x30;

/**
 * crlEntryExtensions holding only a non-critical reasonCode (RFC 5280 5.3.1):
 * SEQUENCE { SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED code } } }. The last byte is the code.
 */
const REASON_CODE_EXTENSIONS = Uint8Array.of(0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, 0x00);

/**
 * The DER RevokedCertificate SEQUENCE { userCertificate INTEGER, revocationDate Time, crlEntryExtensions? }.
 * `serialMagnitude` is the serial's unsigned big-endian value; `revocationDate` must be whole seconds in
 * 1950..9999; `reasonCode` undefined writes no crlEntryExtensions at all (never an empty SEQUENCE).
 * No policy checks: encodeCrlEntry is the entry point for mailca's own certificates.
 */
export function writeRevokedCertificate(serialMagnitude: Uint8Array, revocationDate: Date, reasonCode: number | undefined): Uint8Array {
  const serial = unsignedIntegerContent(serialMagnitude);
  const serialSize = derHeaderSize(serial.byteLength) + serial.byteLength;
  const contentLength = serialSize + derTimeSize(revocationDate) + (reasonCode === undefined ? 0 : REASON_CODE_EXTENSIONS.byteLength);
  const out = new Uint8Array(derHeaderSize(contentLength) + contentLength);
  let offset = writeDerHeader(out, 0, TAG_SEQUENCE, contentLength);
  offset = writeDerHeader(out, offset, TAG_INTEGER, serial.byteLength);
  out.set(serial, offset);
  offset = writeDerTime(out, offset + serial.byteLength, revocationDate);
  if (reasonCode !== undefined) {
    out.set(REASON_CODE_EXTENSIONS, offset);
    out[offset + REASON_CODE_EXTENSIONS.byteLength - 1] = reasonCode;
  }
  return out;
}

/**
 * One CRL entry of a mailca certificate, encoded once (at revocation) and copied into every CRL after.
 * 'unspecified' carries no reasonCode (RFC 5280 5.3.1 SHOULD); removeFromCRL belongs to delta CRLs only.
 */
export function encodeCrlEntry(entry: CrlEntry): Uint8Array {
  if (!isRevocationReason(entry.reason)) throw new Error(`CRL entry ${entry.serial}: unknown reason ${JSON.stringify(entry.reason)}`);
  if (entry.reason === 'removeFromCRL') throw new Error(`CRL entry ${entry.serial}: removeFromCRL is only valid in delta CRLs`);
  const serial = serialToBytes(entry.serial);
  const revokedAt = toCertificateTime(entry.revokedAt, `CRL entry ${entry.serial} revokedAt`);
  return writeRevokedCertificate(serial, revokedAt, entry.reason === 'unspecified' ? undefined : REVOCATION_REASONS[entry.reason]);
}

/** Reads a DER length at `offset`; returns the length and the offset after it, or undefined if malformed. */
function readLength(bytes: Uint8Array, offset: number): { length: number; next: number } | undefined {
  const first = bytes[offset];
  if (first === undefined) return undefined;
  if (first < 0x80) return { length: first, next: offset + 1 };
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || offset + 1 + octets > bytes.byteLength) return undefined;
  let length = 0;
  for (let i = 1; i <= octets; i++) length = length * 256 + (bytes[offset + i] ?? 0);
  return { length, next: offset + 1 + octets };
}

/**
 * The serial INTEGER TLV of an encoded entry, after checking the entry is exactly one SEQUENCE starting with
 * an INTEGER (so a truncated or foreign value cannot corrupt the CRL around it). A view, not a copy.
 */
export function crlEntrySerialTlv(entry: Uint8Array): Uint8Array {
  const outer = entry[0] === TAG_SEQUENCE ? readLength(entry, 1) : undefined;
  if (!outer || outer.next + outer.length !== entry.byteLength || entry[outer.next] !== TAG_INTEGER) {
    throw new Error('Encoded CRL entry is not a single RevokedCertificate SEQUENCE');
  }
  const serial = readLength(entry, outer.next + 1);
  if (!serial || serial.length === 0 || serial.next + serial.length > entry.byteLength) {
    throw new Error('Encoded CRL entry has a malformed serial INTEGER');
  }
  return entry.subarray(outer.next, serial.next + serial.length);
}
