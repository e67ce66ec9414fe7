import { concatBytes } from './bytes.ts';

// Minimal DER helpers for the few places where the ASN.1 classes would force a re-encode of bytes we
// already hold (signed TBS, exact Names copied from the CA certificate) or lack a bigint INTEGER.

const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_SEQUENCE = 0x30;

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(tag), encodeLength(content.byteLength), content]);
}

export function derSequence(...elements: Uint8Array[]): Uint8Array {
  return derTlv(TAG_SEQUENCE, concatBytes(elements));
}

export function derOctetString(content: Uint8Array): Uint8Array {
  return derTlv(TAG_OCTET_STRING, content);
}

/** BIT STRING with zero unused bits (signatures). */
export function derBitString(content: Uint8Array): Uint8Array {
  return derTlv(TAG_BIT_STRING, concatBytes([Uint8Array.of(0), content]));
}

/** Non-negative INTEGER, minimal two's-complement encoding. */
export function derUnsignedInteger(value: bigint): Uint8Array {
  if (value < 0n) throw new Error('derUnsignedInteger: negative value');
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return derTlv(TAG_INTEGER, Uint8Array.from(Buffer.from(hex, 'hex')));
}

/** The complete TLV encodings of the direct children of a constructed DER element. */
export function derChildren(element: Uint8Array): Uint8Array[] {
  const outer = readTlv(element, 0);
  if (outer.end !== element.byteLength) throw new Error('DER: trailing data after element');
  const children: Uint8Array[] = [];
  for (let offset = outer.contentStart; offset < outer.end; ) {
    const child = readTlv(element, offset);
    if (child.end > outer.end) throw new Error('DER: child overruns its parent');
    children.push(element.subarray(offset, child.end));
    offset = child.end;
  }
  return children;
}

function readTlv(bytes: Uint8Array, offset: number): { contentStart: number; end: number } {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) throw new Error('DER: truncated');
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let length = first;
  let contentStart = offset + 2;
  if (first >= 0x80) {
    const lengthOctets = first & 0x7f;
    if (lengthOctets === 0 || lengthOctets > 4) throw new Error('DER: unsupported length encoding');
    length = 0;
    for (let i = 0; i < lengthOctets; i++) {
      const octet = bytes[contentStart + i];
      if (octet === undefined) throw new Error('DER: truncated length');
      length = length * 256 + octet;
    }
    contentStart += lengthOctets;
  }
  const end = contentStart + length;
  if (end > bytes.byteLength) throw new Error('DER: truncated content');
  return { contentStart, end };
}

// Writers for elements assembled into one preallocated buffer: the caller sizes the whole encoding first
// (derHeaderSize), allocates once, then writes headers and copies contents in.

/** Bytes taken by the tag and length octets of an element whose content is `contentLength` bytes. */
export function derHeaderSize(contentLength: number): number {
  if (contentLength < 0x80) return 2;
  if (contentLength < 0x100) return 3;
  if (contentLength < 0x10000) return 4;
  if (contentLength < 0x1000000) return 5;
  if (contentLength < 0x100000000) return 6;
  throw new Error('DER: element too large');
}

/** Writes tag and length octets at `offset`; returns the offset of the content. */
export function writeDerHeader(out: Uint8Array, offset: number, tag: number, contentLength: number): number {
  out[offset++] = tag;
  if (contentLength < 0x80) {
    out[offset++] = contentLength;
    return offset;
  }
  const octets = derHeaderSize(contentLength) - 2;
  out[offset++] = 0x80 | octets;
  for (let i = octets - 1; i >= 0; i--) out[offset++] = Math.floor(contentLength / 2 ** (8 * i)) % 256;
  return offset;
}

/**
 * The content octets of a non-negative INTEGER given its unsigned big-endian magnitude: leading zero octets
 * dropped (at least one octet kept), and a 0x00 prepended when the high bit is set so it stays positive.
 */
export function unsignedIntegerContent(magnitude: Uint8Array): Uint8Array {
  if (magnitude.byteLength === 0) throw new Error('DER: empty INTEGER');
  let start = 0;
  while (start < magnitude.byteLength - 1 && magnitude[start] === 0) start++;
  const significant = magnitude.subarray(start);
  if ((significant[0] ?? 0) < 0x80) return significant;
  const padded = new Uint8Array(significant.byteLength + 1);
  padded.set(significant, 1);
  return padded;
}

const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

/** Bytes of an RFC 5280 Time for a whole-second date: UTCTime through 2049, GeneralizedTime from 2050. */
export function derTimeSize(date: Date): number {
  return date.getUTCFullYear() < 2050 ? 15 : 17;
}

function writeDigits(out: Uint8Array, offset: number, value: number, digits: number): number {
  for (let i = digits - 1; i >= 0; i--) {
    out[offset + i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
  return offset + digits;
}

/** Writes the Time TLV (YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ; 1950..9999, whole seconds assumed) at `offset`. */
export function writeDerTime(out: Uint8Array, offset: number, date: Date): number {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`DER: ${year} cannot be encoded as an RFC 5280 Time`);
  if (year < 2050) {
    out[offset++] = TAG_UTC_TIME;
    out[offset++] = 13;
    offset = writeDigits(out, offset, year % 100, 2);
  } else {
    out[offset++] = TAG_GENERALIZED_TIME;
    out[offset++] = 15;
    offset = writeDigits(out, offset, year, 4);
  }
  offset = writeDigits(out, offset, date.getUTCMonth() + 1, 2);
  offset = writeDigits(out, offset, date.getUTCDate(), 2);
  offset = writeDigits(out, offset, date.getUTCHours(), 2);
  offset = writeDigits(out, offset, date.getUTCMinutes(), 2);
  offset = writeDigits(out, offset, date.getUTCSeconds(), 2);
  out[offset++] = 0x5a; // 'Z'
  return offset;
}

const TAG_OID = 0x06;
const TAG_SET = 0x31;

/** OBJECT IDENTIFIER from its dotted form ("1.2.840.113549.1.7.2"). */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d{1,15}$/.test(a)) throw new Error(`DER: bad OID ${dotted}`);
    return Number(a);
  });
  const [first = 0, second = 0, ...rest] = arcs;
  if (arcs.length < 2 || first > 2 || (first < 2 && second > 39)) throw new Error(`DER: bad OID ${dotted}`);
  const octets: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const base128: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      base128.unshift((v % 128) | (base128.length ? 0x80 : 0));
      if (v < 128) break;
    }
    octets.push(...base128);
  }
  return derTlv(TAG_OID, Uint8Array.from(octets));
}

/** SET OF, its elements sorted as DER requires (by their encodings). */
export function derSetOf(...elements: Uint8Array[]): Uint8Array {
  const sorted = [...elements].sort((a, b) => Buffer.compare(a, b));
  return derTlv(TAG_SET, concatBytes(sorted));
}
