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
