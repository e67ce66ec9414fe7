import { createPublicKey, type KeyObject } from 'node:crypto';
import { DER_TAG, derChildElements, readDerElement, readDerStrict } from './der-reader.ts';

// Recognises a SubjectPublicKeyInfo that is already in the canonical form mailca certifies (EC P-256/P-384 named
// curve with an uncompressed point that is on the curve; rsaEncryption with NULL parameters and a strict DER
// RSAPublicKey), without OpenSSL's DER decoder (~90 µs per key in OpenSSL 3). Anything else gets `undefined`,
// and callers take the general path through createPublicKey, which also gives the precise refusal.

export type CanonicalKey = (
  | { kind: 'ec-p256' | 'ec-p384'; /** 04 || x || y */ point: Uint8Array }
  | { kind: 'rsa'; modulusBits: number; modulus: Uint8Array; publicExponent: Uint8Array }
) & {
  /** The subjectPublicKey BIT STRING's content after its unused-bits octet (what key identifiers hash). */
  subjectPublicKey: Uint8Array;
};

interface Curve {
  kind: 'ec-p256' | 'ec-p384';
  namedCurve: 'prime256v1' | 'secp384r1';
  /** Encoded SEQUENCE { id-ecPublicKey, namedCurve } followed by the BIT STRING header and 00 04. */
  prefix: Uint8Array;
  coordinateBytes: number;
  p: bigint;
  b: bigint;
}

const CURVES: Curve[] = [
  {
    kind: 'ec-p256',
    namedCurve: 'prime256v1',
    prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
    coordinateBytes: 32,
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  {
    kind: 'ec-p384',
    namedCurve: 'secp384r1',
    prefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
    coordinateBytes: 48,
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
];

/** SEQUENCE { rsaEncryption, NULL }. */
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
}

function mod(value: bigint, p: bigint): bigint {
  const r = value % p;
  return r < 0n ? r + p : r;
}

/** 0 < x, y < p and y² = x³ − 3x + b (mod p). Both curves have cofactor 1, so this is full public-key validation. */
function onCurve(curve: Curve, x: bigint, y: bigint): boolean {
  const { p, b } = curve;
  if (x >= p || y >= p) return false;
  return mod(y * y - (x * x * x - 3n * x + b), p) === 0n;
}

function canonicalEcKey(spki: Uint8Array): CanonicalKey | undefined {
  for (const curve of CURVES) {
    if (spki.length !== curve.prefix.length + 1 + 2 * curve.coordinateBytes || !startsWith(spki, curve.prefix)) continue;
    const point = spki.subarray(curve.prefix.length);
    if (point[0] !== 0x04) return undefined;
    const x = toBigInt(point.subarray(1, 1 + curve.coordinateBytes));
    const y = toBigInt(point.subarray(1 + curve.coordinateBytes));
    return onCurve(curve, x, y) ? { kind: curve.kind, point, subjectPublicKey: point } : undefined;
  }
  return undefined;
}

/** A positive INTEGER's magnitude (strict DER already checked it is minimal), or undefined if it is not positive. */
function positiveInteger(bytes: Uint8Array, contentStart: number, end: number): Uint8Array | undefined {
  const first = bytes[contentStart] as number;
  if (first >= 0x80) return undefined;
  const start = first === 0 ? contentStart + 1 : contentStart;
  return start < end ? bytes.subarray(start, end) : undefined;
}

function canonicalRsaKey(spki: Uint8Array): CanonicalKey | undefined {
  const root = readDerElement(spki, 0);
  if (root.end !== spki.length || root.tag !== DER_TAG.SEQUENCE) return undefined;
  const algorithmStart = root.contentStart;
  if (!startsWith(spki.subarray(algorithmStart), RSA_ALGORITHM)) return undefined;
  const bitString = readDerElement(spki, algorithmStart + RSA_ALGORITHM.length, root.end);
  if (bitString.tag !== DER_TAG.BIT_STRING || bitString.end !== root.end || spki[bitString.contentStart] !== 0) return undefined;
  const rsaPublicKey = spki.subarray(bitString.contentStart + 1, bitString.end);
  const sequence = readDerStrict(rsaPublicKey);
  if (sequence.tag !== DER_TAG.SEQUENCE) return undefined;
  const [n, e, extra] = derChildElements(rsaPublicKey, sequence);
  if (!n || !e || extra || n.tag !== DER_TAG.INTEGER || e.tag !== DER_TAG.INTEGER) return undefined;
  const modulus = positiveInteger(rsaPublicKey, n.contentStart, n.end);
  const publicExponent = positiveInteger(rsaPublicKey, e.contentStart, e.end);
  if (!modulus || !publicExponent) return undefined;
  const modulusBits = (modulus.length - 1) * 8 + (32 - Math.clz32(modulus[0] as number));
  return { kind: 'rsa', modulusBits, modulus, publicExponent, subjectPublicKey: rsaPublicKey };
}

/** The key's fields if `spki` is strict DER in the canonical form; undefined otherwise (not necessarily invalid). */
export function readCanonicalKey(spki: Uint8Array): CanonicalKey | undefined {
  try {
    return spki[1] === 0x59 || spki[1] === 0x76 ? canonicalEcKey(spki) : canonicalRsaKey(spki);
  } catch {
    return undefined; // not strict DER: the general path reports it
  }
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * A KeyObject for a canonical key by the cheapest import OpenSSL offers for it: JWK for RSA (~4 µs) and P-256
 * (the point was validated above), DER for P-384 (its JWK import is slower than DER).
 */
export function publicKeyObjectOf(spki: Uint8Array, key: CanonicalKey): KeyObject {
  switch (key.kind) {
    case 'rsa':
      return createPublicKey({ key: { kty: 'RSA', n: base64url(key.modulus), e: base64url(key.publicExponent) }, format: 'jwk' });
    case 'ec-p256':
      return createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: base64url(key.point.subarray(1, 33)), y: base64url(key.point.subarray(33)) },
        format: 'jwk',
      });
    case 'ec-p384':
      return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  }
}
