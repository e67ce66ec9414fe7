import { createCipheriv, createPrivateKey, pbkdf2Sync, randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { EncryptedData, EncryptedPrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { exactArrayBuffer } from './bytes.ts';
import { derOctetString, derSequence, derUnsignedInteger } from './der.ts';
import { toPem } from './encoding.ts';

// Node's own `key.export({cipher, passphrase})` uses OpenSSL's default of 2,048 PBKDF2 iterations, which is
// weak for a CA key at rest. We build the same PBES2 structure (PBKDF2-HMAC-SHA256 + AES-256-CBC) with a
// 600,000 iteration count (OWASP 2023 for PBKDF2-SHA256; ~0.15 s per open). OpenSSL and Node read it as usual.
export const KEY_ENCRYPTION_PBKDF2_ITERATIONS = 600_000;

const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_PBKDF2 = '1.2.840.113549.1.5.12';
const OID_HMAC_WITH_SHA256 = '1.2.840.113549.2.9';
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

function encodeAlgorithm(algorithm: string, parameters: Uint8Array | null): Uint8Array {
  const identifier = new AlgorithmIdentifier({ algorithm, parameters: parameters === null ? null : exactArrayBuffer(parameters) });
  return new Uint8Array(AsnConvert.serialize(identifier));
}

/** PKCS#8 "ENCRYPTED PRIVATE KEY" PEM: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC. */
export function encryptPrivateKey(key: KeyObject, passphrase: string): string {
  if (key.type !== 'private') throw new Error('encryptPrivateKey needs a private key');
  if (passphrase.length === 0) throw new Error('encryptPrivateKey: empty passphrase');
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const derivedKey = pbkdf2Sync(passphrase, salt, KEY_ENCRYPTION_PBKDF2_ITERATIONS, 32, 'sha256');
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const cipher = createCipheriv('aes-256-cbc', derivedKey, iv);
  const encrypted = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  pkcs8.fill(0);
  derivedKey.fill(0);

  const pbkdf2Params = derSequence(
    derOctetString(salt),
    derUnsignedInteger(BigInt(KEY_ENCRYPTION_PBKDF2_ITERATIONS)),
    encodeAlgorithm(OID_HMAC_WITH_SHA256, null),
  );
  const pbes2Params = derSequence(encodeAlgorithm(OID_PBKDF2, pbkdf2Params), encodeAlgorithm(OID_AES256_CBC, derOctetString(iv)));
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: OID_PBES2, parameters: exactArrayBuffer(pbes2Params) }),
    encryptedData: new EncryptedData(exactArrayBuffer(encrypted)),
  });
  return toPem(new Uint8Array(AsnConvert.serialize(info)), 'ENCRYPTED PRIVATE KEY');
}

/** Opens an "ENCRYPTED PRIVATE KEY" PEM (any PBES2 OpenSSL understands). */
export function decryptPrivateKeyPem(pem: string, passphrase: string): KeyObject {
  // Without this check an unencrypted PEM would load and silently ignore the passphrase.
  if (!pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new Error('CA key is not an encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY")');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (error) {
    throw new Error('Cannot decrypt the CA private key: wrong passphrase or damaged key file', { cause: error });
  }
}

