import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { InvalidCsr } from '../errors.ts';
import { publicKeyObjectOf, readCanonicalKey } from '../issuance/canonical-key.ts';
import {
  DER_TAG,
  DerFormatError,
  derChildElements,
  derElementBytes,
  derObjectIdentifier,
  expectDerTag,
  readDerStrict,
  type DerElement,
} from '../issuance/der-reader.ts';

export const MAX_CSR_BYTES = 64 * 1024;

export interface CheckedCsr {
  /** DER SubjectPublicKeyInfo: the only thing taken from a request. */
  subjectPublicKeySpki: Uint8Array;
  spkiSha256: string;
  /** e.g. "ECDSA P-256", "RSA 3072". */
  keyDescription: string;
}

const PEM_BEGIN_RE = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----/;
const PEM_BEGIN_MARKER = '-----BEGIN ';
const BASE64_WHITESPACE_RE = /[\t\n\v\f\r ]+/g;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

const NOT_A_CSR = 'the CSR is neither PEM ("-----BEGIN CERTIFICATE REQUEST-----") nor base64 DER';

function tooLarge(): InvalidCsr {
  return new InvalidCsr('csr_too_large', `the CSR is larger than ${MAX_CSR_BYTES / 1024} KiB`);
}

/** Strict base64 (RFC 4648 alphabet, padding only at the end, canonical final bits); whitespace is ignored. */
function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(BASE64_WHITESPACE_RE, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64_RE.test(compact)) throw new InvalidCsr('csr_malformed', NOT_A_CSR);
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) throw new InvalidCsr('csr_malformed', NOT_A_CSR);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * PEM text (explanatory text may precede the block; nothing but whitespace may follow it), base64 DER text, or
 * DER bytes (which may still be PEM text: a file read from disk).
 */
function csrDer(input: string | Uint8Array): Uint8Array {
  if (input.length > MAX_CSR_BYTES) throw tooLarge();
  if (typeof input !== 'string') {
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return bytes.includes(PEM_BEGIN_MARKER, 0, 'latin1') ? csrDer(bytes.toString('latin1')) : input;
  }
  const begin = PEM_BEGIN_RE.exec(input);
  if (!begin) return decodeBase64(input);
  const end = `-----END ${begin[1] ?? ''}CERTIFICATE REQUEST-----`;
  const bodyStart = begin.index + begin[0].length;
  const endAt = input.indexOf(end, bodyStart);
  if (endAt < 0) throw new InvalidCsr('csr_malformed', `the PEM block has no "${end}" line`);
  if (input.slice(endAt + end.length).trim() !== '') throw new InvalidCsr('csr_malformed', 'there is data after the PEM block');
  return decodeBase64(input.slice(bodyStart, endAt));
}

/** The parts of a PKCS#10 CertificationRequest (RFC 2986) that proof of possession needs. */
interface CsrParts {
  /** certificationRequestInfo, as signed. */
  signedBytes: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  signatureAlgorithm: string;
  /** The signatureAlgorithm parameters element, if present. */
  signatureParameters: DerElement | undefined;
  signature: Uint8Array;
}

function readCsrParts(der: Uint8Array): CsrParts {
  const root = expectDerTag(readDerStrict(der), DER_TAG.SEQUENCE, 'CertificationRequest');
  const [infoElement, algorithmElement, signatureElement, extra] = derChildElements(der, root);
  const info = expectDerTag(infoElement, DER_TAG.SEQUENCE, 'certificationRequestInfo');
  const algorithm = expectDerTag(algorithmElement, DER_TAG.SEQUENCE, 'signatureAlgorithm');
  const signature = expectDerTag(signatureElement, DER_TAG.BIT_STRING, 'signature');
  if (extra) throw new DerFormatError('DER: CertificationRequest has more than three fields');

  const [version, subject, spkiElement, attributes, extraInfo] = derChildElements(der, info);
  const versionElement = expectDerTag(version, DER_TAG.INTEGER, 'version');
  if (versionElement.end - versionElement.contentStart !== 1 || der[versionElement.contentStart] !== 0) {
    throw new DerFormatError('DER: CertificationRequest version is not v1 (0)');
  }
  expectDerTag(subject, DER_TAG.SEQUENCE, 'subject');
  const spki = expectDerTag(spkiElement, DER_TAG.SEQUENCE, 'subjectPKInfo');
  expectDerTag(attributes, 0xa0, 'attributes');
  if (extraInfo) throw new DerFormatError('DER: certificationRequestInfo has more than four fields');

  const [keyAlgorithm, keyBits, extraKey] = derChildElements(der, spki);
  expectDerTag(keyAlgorithm, DER_TAG.SEQUENCE, 'subjectPKInfo algorithm');
  expectDerTag(keyBits, DER_TAG.BIT_STRING, 'subjectPublicKey');
  if (extraKey) throw new DerFormatError('DER: subjectPKInfo has more than two fields');

  const [algorithmOid, parameters, extraAlgorithm] = derChildElements(der, algorithm);
  const oid = derObjectIdentifier(der, expectDerTag(algorithmOid, DER_TAG.OID, 'signatureAlgorithm algorithm'));
  if (extraAlgorithm) throw new DerFormatError('DER: signatureAlgorithm has more than two fields');

  if (der[signature.contentStart] !== 0) throw new DerFormatError('DER: signature has unused bits');
  return {
    signedBytes: derElementBytes(der, info),
    subjectPublicKeyInfo: derElementBytes(der, spki),
    signatureAlgorithm: oid,
    signatureParameters: parameters,
    signature: der.subarray(signature.contentStart + 1, signature.end),
  };
}

type SignatureKeyType = 'ec' | 'rsa';

const SIGNATURE_ALGORITHMS: ReadonlyMap<string, { keyType: SignatureKeyType; hash: 'sha256' | 'sha384' | 'sha512'; name: string }> = new Map([
  ['1.2.840.10045.4.3.2', { keyType: 'ec', hash: 'sha256', name: 'ecdsa-with-SHA256' }],
  ['1.2.840.10045.4.3.3', { keyType: 'ec', hash: 'sha384', name: 'ecdsa-with-SHA384' }],
  ['1.2.840.10045.4.3.4', { keyType: 'ec', hash: 'sha512', name: 'ecdsa-with-SHA512' }],
  ['1.2.840.113549.1.1.11', { keyType: 'rsa', hash: 'sha256', name: 'sha256WithRSAEncryption' }],
  ['1.2.840.113549.1.1.12', { keyType: 'rsa', hash: 'sha384', name: 'sha384WithRSAEncryption' }],
  ['1.2.840.113549.1.1.13', { keyType: 'rsa', hash: 'sha512', name: 'sha512WithRSAEncryption' }],
]);

/** What checkCsr accepts, as OIDs (the EST csrattrs answer): key types, EC curves, signature algorithms. */
export const ACCEPTED_CSR_ALGORITHMS = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecCurves: ['1.2.840.10045.3.1.7', '1.3.132.0.34'], // P-256 (prime256v1), P-384 (secp384r1): describeKey
  rsaEncryption: '1.2.840.113549.1.1.1',
  signatures: [...SIGNATURE_ALGORITHMS.keys()],
} as const;

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const MAX_RSA_PUBLIC_EXPONENT = 0xffffffffn;

/**
 * Reads the request's public key and re-encodes it canonically (uncompressed EC point, RSA with
 * NULL parameters), so one key always has one encoding: in the certificate, and in the hash that
 * key blocking and renewal compare.
 */
function canonicalKey(spki: Uint8Array): { key: KeyObject; keyType: SignatureKeyType; spki: Uint8Array; description: string } {
  // Usually the request's key is already canonical: then it is imported the cheap way and kept as it is.
  const canonicalFields = readCanonicalKey(spki);
  if (canonicalFields) {
    let key: KeyObject;
    try {
      key = publicKeyObjectOf(spki, canonicalFields);
    } catch {
      throw new InvalidCsr('csr_key_unsupported', 'the CSR public key could not be read');
    }
    const { keyType, description } = describeKey(key);
    return { key, keyType, spki: new Uint8Array(spki), description }; // a copy, never a view of the request
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  } catch {
    throw new InvalidCsr('csr_key_unsupported', 'the CSR public key could not be read');
  }
  const { keyType, description } = describeKey(key);
  // A JWK round trip drops the request's encoding choices (e.g. a compressed EC point).
  let canonical: Uint8Array;
  try {
    const jwk = createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' });
    canonical = new Uint8Array(jwk.export({ type: 'spki', format: 'der' }));
  } catch {
    throw new InvalidCsr('csr_key_unsupported', 'the CSR public key could not be re-encoded');
  }
  return { key, keyType, spki: canonical, description };
}

function describeKey(key: KeyObject): { keyType: SignatureKeyType; description: string } {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (d?.namedCurve === 'prime256v1') return { keyType: 'ec', description: 'ECDSA P-256' };
    if (d?.namedCurve === 'secp384r1') return { keyType: 'ec', description: 'ECDSA P-384' };
    throw new InvalidCsr('csr_key_unsupported', `EC curve ${d?.namedCurve ?? 'unknown'} is not allowed; use P-256 or P-384`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      throw new InvalidCsr('csr_key_unsupported', `RSA ${bits}-bit keys are not allowed; use ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`);
    }
    const exponent = d?.publicExponent ?? 0n;
    if (exponent < 3n || exponent > MAX_RSA_PUBLIC_EXPONENT || exponent % 2n === 0n) {
      throw new InvalidCsr('csr_key_unsupported', `an RSA public exponent of ${exponent} is not allowed; use a small odd exponent such as 65537`);
    }
    return { keyType: 'rsa', description: `RSA ${bits}` };
  }
  throw new InvalidCsr(
    'csr_key_unsupported',
    `${key.asymmetricKeyType ?? 'unknown'} keys are not allowed; use ECDSA P-256/P-384 or RSA ${MIN_RSA_BITS}-${MAX_RSA_BITS}`,
  );
}

function signatureInvalid(message: string): InvalidCsr {
  return new InvalidCsr('csr_signature_invalid', message);
}

function verifyProofOfPossession(parts: CsrParts, key: KeyObject, keyType: SignatureKeyType): void {
  const algorithm = SIGNATURE_ALGORITHMS.get(parts.signatureAlgorithm);
  if (!algorithm) {
    throw signatureInvalid(
      `the CSR signature algorithm ${parts.signatureAlgorithm} is not accepted; use ECDSA with SHA-256/384 or RSA PKCS#1 v1.5 with SHA-256/384/512`,
    );
  }
  if (algorithm.keyType !== keyType) throw signatureInvalid(`the CSR is signed with ${algorithm.name}, which does not fit its ${keyType.toUpperCase()} key`);
  // RFC 5758: ECDSA parameters absent; RFC 4055: RSA parameters NULL (absent is tolerated, as most verifiers do).
  const parameters = parts.signatureParameters;
  const nullParameters = parameters !== undefined && parameters.tag === DER_TAG.NULL;
  if (parameters !== undefined && (keyType === 'ec' || !nullParameters)) {
    throw signatureInvalid(`the CSR signature algorithm ${algorithm.name} has unexpected parameters`);
  }
  let valid = false;
  try {
    valid = verify(algorithm.hash, parts.signedBytes, key, parts.signature);
  } catch {
    valid = false;
  }
  if (!valid) throw signatureInvalid('the CSR signature does not verify with its own public key (proof of possession failed)');
}

/**
 * Parses a PKCS#10 request strictly and proves possession of its key. Names and extensions in the request
 * are ignored: the certificate profile is decided by mailca.
 */
export async function checkCsr(input: string | Uint8Array): Promise<CheckedCsr> {
  const der = csrDer(input);
  if (der.length > MAX_CSR_BYTES) throw tooLarge();
  let parts: CsrParts;
  try {
    parts = readCsrParts(der);
  } catch (error) {
    if (error instanceof DerFormatError) throw new InvalidCsr('csr_malformed', `the CSR is not a valid PKCS#10 certificate request (${error.message})`);
    throw error;
  }
  const { key, keyType, spki, description: keyDescription } = canonicalKey(parts.subjectPublicKeyInfo);
  verifyProofOfPossession(parts, key, keyType);
  return { subjectPublicKeySpki: spki, spkiSha256: createHash('sha256').update(spki).digest('hex'), keyDescription };
}
