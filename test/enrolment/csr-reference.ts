// mailca's CSR check as it was before the strict DER reader: @peculiar/x509 parses the request and WebCrypto
// verifies it. The tests compare the new reader against it.
import 'reflect-metadata';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { InvalidCsr } from '../../src/errors.ts';
import { MAX_CSR_BYTES, type CheckedCsr } from '../../src/enrolment/csr.ts';

x509.cryptoProvider.set(globalThis.crypto);

const PEM_RE = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (NEW )?CERTIFICATE REQUEST-----/;
const BASE64_RE = /^[A-Za-z0-9+/=\s]+$/;

/** Accepts PEM text, base64 DER text, or DER bytes. */
function csrDer(input: string | Uint8Array): Uint8Array {
  if (input.length > MAX_CSR_BYTES) {
    throw new InvalidCsr('csr_too_large', `the CSR is larger than ${MAX_CSR_BYTES / 1024} KiB`);
  }
  if (typeof input !== 'string') {
    // Bytes may still be PEM text (a file read from disk).
    const text = Buffer.from(input).toString('latin1');
    return PEM_RE.test(text) ? csrDer(text) : input;
  }
  const pem = PEM_RE.exec(input);
  const body = pem ? pem[2] ?? '' : input.trim();
  if (!body || !BASE64_RE.test(body)) {
    throw new InvalidCsr('csr_malformed', 'the CSR is neither PEM ("-----BEGIN CERTIFICATE REQUEST-----") nor base64 DER');
  }
  return new Uint8Array(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
}

/**
 * Reads the request's public key and re-encodes it canonically (uncompressed EC point, RSA with
 * NULL parameters), so one key always has one encoding: in the certificate, and in the hash that
 * key blocking and renewal compare.
 */
function canonicalKey(spki: Uint8Array): { spki: Uint8Array; description: string } {
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new InvalidCsr('csr_key_unsupported', 'the CSR public key could not be read');
  }
  const description = describeKey(key);
  // A JWK round trip drops the request's encoding choices (e.g. a compressed EC point).
  const canonical = createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' });
  return { spki: new Uint8Array(canonical.export({ type: 'spki', format: 'der' })), description };
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (d?.namedCurve === 'prime256v1') return 'ECDSA P-256';
    if (d?.namedCurve === 'secp384r1') return 'ECDSA P-384';
    throw new InvalidCsr('csr_key_unsupported', `EC curve ${d?.namedCurve ?? 'unknown'} is not allowed; use P-256 or P-384`);
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d?.modulusLength ?? 0;
    if (bits >= 2048 && bits <= 8192) return `RSA ${bits}`;
    throw new InvalidCsr('csr_key_unsupported', `RSA ${bits}-bit keys are not allowed; use 2048 to 8192 bits`);
  }
  throw new InvalidCsr('csr_key_unsupported', `${key.asymmetricKeyType ?? 'unknown'} keys are not allowed; use ECDSA P-256/P-384 or RSA 2048-8192`);
}

/**
 * Parses a PKCS#10 request and proves possession of its key. Names and extensions in the request
 * are ignored: the certificate profile is decided by mailca.
 */
export async function referenceCheckCsr(input: string | Uint8Array): Promise<CheckedCsr> {
  const der = csrDer(input);
  if (der.length > MAX_CSR_BYTES) throw new InvalidCsr('csr_too_large', `the CSR is larger than ${MAX_CSR_BYTES / 1024} KiB`);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
  } catch {
    throw new InvalidCsr('csr_malformed', 'the CSR is not a valid PKCS#10 certificate request');
  }
  const { spki, description: keyDescription } = canonicalKey(new Uint8Array(csr.publicKey.rawData));
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new InvalidCsr('csr_signature_invalid', 'the CSR signature does not verify with its own public key (proof of possession failed)');
  return { subjectPublicKeySpki: spki, spkiSha256: createHash('sha256').update(spki).digest('hex'), keyDescription };
}
