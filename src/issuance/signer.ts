import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { decryptPrivateKeyPem } from './key-encryption.ts';

export { encryptPrivateKey } from './key-encryption.ts';

export type KeyAlgorithm = 'P-256' | 'P-384' | 'RSA-3072';

export interface Signer {
  readonly keyAlgorithm: KeyAlgorithm;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKeySpki: Uint8Array;
  /** X.509-ready signature over data: DER ECDSA-Sig-Value for EC, PKCS#1 v1.5 for RSA. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const SHA256_WITH_RSA_ENCRYPTION = '1.2.840.113549.1.1.11';

export function signatureHashFor(alg: KeyAlgorithm): 'sha256' | 'sha384' {
  return alg === 'P-384' ? 'sha384' : 'sha256';
}

/** The signature AlgorithmIdentifier for certificates and CRLs signed with a key of this algorithm. */
export function signatureAlgorithmFor(alg: KeyAlgorithm): AlgorithmIdentifier {
  switch (alg) {
    case 'P-256':
      return new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }); // RFC 5758: parameters absent
    case 'P-384':
      return new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA384 });
    case 'RSA-3072':
      return new AlgorithmIdentifier({ algorithm: SHA256_WITH_RSA_ENCRYPTION, parameters: null }); // RFC 4055: NULL
  }
}

/** Which KeyAlgorithm a Node key (private or public) is; throws for anything else. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'P-256';
    if (details?.namedCurve === 'secp384r1') return 'P-384';
  }
  if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 3072) return 'RSA-3072';
  const detail = details?.namedCurve ?? details?.modulusLength ?? '';
  throw new Error(`Unsupported CA key: ${key.asymmetricKeyType ?? 'unknown'} ${detail}; expected P-256, P-384 or RSA-3072`);
}

/** Data at least this large (a big CRL, never a certificate) is signed and verified on the libuv thread pool. */
export const OFF_THREAD_BYTES = 256 << 10;

/** verifySignature on the thread pool for large data (a 100k-entry CRL hashes megabytes). */
export function verifySignatureOffThread(alg: KeyAlgorithm, publicKeySpki: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (data.byteLength < OFF_THREAD_BYTES) return Promise.resolve(verifySignature(alg, publicKeySpki, data, signature));
  const publicKey = createPublicKey({ key: Buffer.from(publicKeySpki), format: 'der', type: 'spki' });
  return new Promise((resolve, reject) => verify(signatureHashFor(alg), data, publicKey, signature, (err, ok) => (err ? reject(err) : resolve(ok))));
}

/** Verifies an X.509 signature made by a Signer (used to check every signature before it leaves the module). */
export function verifySignature(alg: KeyAlgorithm, publicKeySpki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const publicKey = createPublicKey({ key: Buffer.from(publicKeySpki), format: 'der', type: 'spki' });
  return verify(signatureHashFor(alg), data, publicKey, signature);
}

/** Signs with a private key held in process memory (loaded from an encrypted PEM file). */
export class FileSigner implements Signer {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly publicKeySpki: Uint8Array;
  readonly #privateKey: KeyObject;
  readonly #hash: 'sha256' | 'sha384';

  constructor(privateKey: KeyObject) {
    if (privateKey.type !== 'private') throw new Error('FileSigner needs a private key');
    this.keyAlgorithm = keyAlgorithmOf(privateKey);
    this.#privateKey = privateKey;
    this.#hash = signatureHashFor(this.keyAlgorithm);
    this.publicKeySpki = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  }

  static fromEncryptedPem(pem: string, passphrase: string): FileSigner {
    return new FileSigner(decryptPrivateKeyPem(pem, passphrase));
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    // Node defaults are what X.509 wants: DER (r, s) for ECDSA, PKCS#1 v1.5 padding for RSA.
    if (data.byteLength < OFF_THREAD_BYTES) return new Uint8Array(sign(this.#hash, data, this.#privateKey));
    // A large CRL: hashed and signed on the thread pool, not the event loop (same signature).
    return new Promise((resolve, reject) => sign(this.#hash, data, this.#privateKey, (err, signature) => (err ? reject(err) : resolve(new Uint8Array(signature)))));
  }
}

export function generateCaKeyPair(alg: KeyAlgorithm): { privateKey: KeyObject } {
  switch (alg) {
    case 'P-256':
    case 'P-384':
      return { privateKey: generateKeyPairSync('ec', { namedCurve: alg }).privateKey };
    case 'RSA-3072':
      return { privateKey: generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 0x10001 }).privateKey };
  }
}

