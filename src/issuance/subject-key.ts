import { createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { bytesEqual } from './bytes.ts';
import { readCanonicalKey } from './canonical-key.ts';
import { DER_TAG, DerFormatError, derChildElements, expectDerTag, readDerStrict } from './der-reader.ts';

export type SubjectKeyKind = 'ec-p256' | 'ec-p384' | 'rsa';

export interface CheckedSubjectKey {
  kind: SubjectKeyKind;
  /** Parsed SPKI; re-encodes to exactly the input bytes (checked). */
  info: SubjectPublicKeyInfo;
}

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/** Accepts only EC P-256/P-384 and RSA 2048–8192 SPKIs, in exact DER. */
export function checkSubjectPublicKey(spki: Uint8Array): CheckedSubjectKey {
  let key: KeyObject;
  let info: SubjectPublicKeyInfo;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  } catch (error) {
    throw new Error('Subject public key: not a parseable SubjectPublicKeyInfo', { cause: error });
  }
  if (!bytesEqual(new Uint8Array(AsnConvert.serialize(info)), spki)) {
    throw new Error('Subject public key: SubjectPublicKeyInfo is not in canonical DER');
  }
  return { kind: subjectKeyKind(key), info };
}

export interface SubjectKeyFields {
  kind: SubjectKeyKind;
  /** The subjectPublicKey BIT STRING's content after its unused-bits octet (what key identifiers hash). */
  subjectPublicKey: Uint8Array;
}

/**
 * The same acceptance as checkSubjectPublicKey (EC P-256/P-384, RSA 2048–8192, exact DER: a strict reader
 * stands in for the parse-and-re-encode comparison), without the ASN.1 classes: for the issuance hot path.
 */
export function readSubjectPublicKey(spki: Uint8Array): SubjectKeyFields {
  // The usual case (a key from checkCsr, already canonical) needs no OpenSSL decode.
  const canonical = readCanonicalKey(spki);
  if (canonical) {
    if (canonical.kind === 'rsa') assertRsaBits(canonical.modulusBits);
    return { kind: canonical.kind, subjectPublicKey: canonical.subjectPublicKey };
  }
  let subjectPublicKey: Uint8Array;
  try {
    const root = expectDerTag(readDerStrict(spki), DER_TAG.SEQUENCE, 'SubjectPublicKeyInfo');
    const [algorithm, bitString, extra] = derChildElements(spki, root);
    expectDerTag(algorithm, DER_TAG.SEQUENCE, 'SubjectPublicKeyInfo algorithm');
    const bits = expectDerTag(bitString, DER_TAG.BIT_STRING, 'subjectPublicKey');
    if (extra !== undefined) throw new DerFormatError('DER: SubjectPublicKeyInfo has more than two fields');
    if (spki[bits.contentStart] !== 0) throw new DerFormatError('DER: subjectPublicKey has unused bits');
    subjectPublicKey = spki.subarray(bits.contentStart + 1, bits.end);
  } catch (error) {
    throw new Error('Subject public key: SubjectPublicKeyInfo is not in canonical DER', { cause: error });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  } catch (error) {
    throw new Error('Subject public key: not a parseable SubjectPublicKeyInfo', { cause: error });
  }
  return { kind: subjectKeyKind(key), subjectPublicKey };
}

function subjectKeyKind(key: KeyObject): SubjectKeyKind {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec-p256';
    if (details?.namedCurve === 'secp384r1') return 'ec-p384';
    throw new Error(`Subject public key: unsupported EC curve ${details?.namedCurve ?? 'unknown'}`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    assertRsaBits(details?.modulusLength ?? 0);
    return 'rsa';
  }
  throw new Error(`Subject public key: unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`);
}

function assertRsaBits(bits: number): void {
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new Error(`Subject public key: RSA modulus of ${bits} bits is outside ${MIN_RSA_BITS}–${MAX_RSA_BITS}`);
  }
}
