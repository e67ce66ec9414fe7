// A strict DER reader for untrusted input (CSRs, subject public keys): single-byte tags, definite lengths in
// their minimal encoding, primitive strings only, children that exactly fill their parent, no trailing data,
// and a bounded nesting depth. It only delimits elements; callers decide what the elements mean.

/** The input is not DER (or not the DER the caller expects); the message says where. */
export class DerFormatError extends Error {}

export interface DerElement {
  tag: number;
  /** Offset of the tag octet. */
  start: number;
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export const MAX_DER_DEPTH = 24;

const CONSTRUCTED = 0x20;
const CLASS_MASK = 0xc0;
const UNIVERSAL = 0x00;

/** One TLV at `offset`, which must end at or before `limit`. Checks the header only. */
export function readDerElement(bytes: Uint8Array, offset: number, limit: number = bytes.length): DerElement {
  if (offset + 2 > limit) throw new DerFormatError(`DER: truncated header at offset ${offset}`);
  const tag = bytes[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerFormatError(`DER: multi-byte tag at offset ${offset}`);
  if (tag === 0) throw new DerFormatError(`DER: end-of-contents octets at offset ${offset}`);
  const first = bytes[offset + 1] as number;
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0) throw new DerFormatError(`DER: indefinite length at offset ${offset}`);
    if (octets > 3) throw new DerFormatError(`DER: length of ${octets} octets at offset ${offset}`);
    if (contentStart + octets > limit) throw new DerFormatError(`DER: truncated length at offset ${offset}`);
    if (bytes[contentStart] === 0) throw new DerFormatError(`DER: length with a leading zero octet at offset ${offset}`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (bytes[contentStart + i] as number);
    if (length < 0x80) throw new DerFormatError(`DER: long-form length ${length} at offset ${offset}`);
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerFormatError(`DER: content at offset ${offset} overruns its container`);
  return { tag, start: offset, contentStart, end };
}

/** The children of a constructed element; they must fill it exactly. */
export function derChildElements(bytes: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readDerElement(bytes, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/**
 * Reads `bytes` as exactly one DER element and checks every element inside it, to MAX_DER_DEPTH levels:
 * headers, constructed forms only for SEQUENCE/SET and non-universal tags, and the universal primitive types
 * whose DER form is easy to state (BOOLEAN, INTEGER, BIT STRING, NULL, OBJECT IDENTIFIER).
 */
export function readDerStrict(bytes: Uint8Array): DerElement {
  const root = readDerElement(bytes, 0);
  if (root.end !== bytes.length) throw new DerFormatError(`DER: ${bytes.length - root.end} octets of trailing data`);
  checkElement(bytes, root, 1);
  return root;
}

function checkElement(bytes: Uint8Array, element: DerElement, depth: number): void {
  const { tag } = element;
  const universal = (tag & CLASS_MASK) === UNIVERSAL;
  if (tag & CONSTRUCTED) {
    if (universal && tag !== DER_TAG.SEQUENCE && tag !== DER_TAG.SET) {
      throw new DerFormatError(`DER: constructed encoding of universal type ${tag & 0x1f} at offset ${element.start}`);
    }
    if (depth >= MAX_DER_DEPTH) throw new DerFormatError(`DER: nested deeper than ${MAX_DER_DEPTH} levels`);
    for (let offset = element.contentStart; offset < element.end; ) {
      const child = readDerElement(bytes, offset, element.end);
      checkElement(bytes, child, depth + 1);
      offset = child.end;
    }
    return;
  }
  if (universal) checkPrimitive(bytes, element);
}

function checkPrimitive(bytes: Uint8Array, element: DerElement): void {
  const length = element.end - element.contentStart;
  const first = bytes[element.contentStart];
  const at = `at offset ${element.start}`;
  switch (element.tag) {
    case DER_TAG.BOOLEAN:
      if (length !== 1 || (first !== 0x00 && first !== 0xff)) throw new DerFormatError(`DER: BOOLEAN is not one 00/FF octet ${at}`);
      return;
    case DER_TAG.INTEGER: {
      if (length === 0) throw new DerFormatError(`DER: empty INTEGER ${at}`);
      const second = bytes[element.contentStart + 1] as number;
      if (length > 1 && ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80))) {
        throw new DerFormatError(`DER: INTEGER not in minimal form ${at}`);
      }
      return;
    }
    case DER_TAG.BIT_STRING:
      if (length === 0 || (first as number) > 7 || (length === 1 && first !== 0)) throw new DerFormatError(`DER: bad BIT STRING ${at}`);
      if ((first as number) > 0) {
        const last = bytes[element.end - 1] as number;
        if ((last & ((1 << (first as number)) - 1)) !== 0) throw new DerFormatError(`DER: BIT STRING with non-zero unused bits ${at}`);
      }
      return;
    case DER_TAG.NULL:
      if (length !== 0) throw new DerFormatError(`DER: NULL with content ${at}`);
      return;
    case DER_TAG.OID:
      checkObjectIdentifier(bytes, element);
      return;
    default:
      return;
  }
}

function checkObjectIdentifier(bytes: Uint8Array, element: DerElement): void {
  if (element.end === element.contentStart) throw new DerFormatError(`DER: empty OBJECT IDENTIFIER at offset ${element.start}`);
  let subidentifierStart = true;
  for (let i = element.contentStart; i < element.end; i++) {
    const octet = bytes[i] as number;
    if (subidentifierStart && octet === 0x80) throw new DerFormatError(`DER: OBJECT IDENTIFIER not in minimal form at offset ${element.start}`);
    subidentifierStart = (octet & 0x80) === 0;
  }
  if (!subidentifierStart) throw new DerFormatError(`DER: truncated OBJECT IDENTIFIER at offset ${element.start}`);
}

/** The element's complete encoding (tag, length and content), without copying. */
export function derElementBytes(bytes: Uint8Array, element: DerElement): Uint8Array {
  return bytes.subarray(element.start, element.end);
}

/** The element's content octets, without copying. */
export function derContentBytes(bytes: Uint8Array, element: DerElement): Uint8Array {
  return bytes.subarray(element.contentStart, element.end);
}

/** Dotted form of an OBJECT IDENTIFIER element (already checked by readDerStrict). */
export function derObjectIdentifier(bytes: Uint8Array, element: DerElement): string {
  if (element.tag !== DER_TAG.OID) throw new DerFormatError(`DER: expected an OBJECT IDENTIFIER at offset ${element.start}`);
  const arcs: number[] = [];
  let value = 0;
  for (let i = element.contentStart; i < element.end; i++) {
    const octet = bytes[i] as number;
    value = value * 128 + (octet & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerFormatError(`DER: OBJECT IDENTIFIER arc too large at offset ${element.start}`);
    if ((octet & 0x80) === 0) {
      if (arcs.length === 0) {
        const top = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(top, value - top * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

/** The one element that must be there, with the given tag. */
export function expectDerTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (!element) throw new DerFormatError(`DER: ${what} is missing`);
  if (element.tag !== tag) throw new DerFormatError(`DER: ${what} has tag 0x${element.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return element;
}
