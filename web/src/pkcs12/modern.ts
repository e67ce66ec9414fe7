import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { copyBytes, randomBytes, type Bytes } from './bytes.ts';
import { OID } from './oids.ts';
import type { Encrypted, Pkcs12Scheme } from './pfx.ts';
import { Pbes2Params, Pbkdf2Params } from './schemas.ts';

/**
 * PBKDF2 runs natively, so it can afford a real work factor. Kept at 200k rather than OWASP's 600k:
 * it is paid twice per file (key bag and certificate bag), and some importers (e.g. .NET's PKCS#12
 * loader limits) cap the per-KDF and total iteration counts in a file.
 */
export const MODERN_PBKDF2_ITERATIONS = 200_000;
/** The MAC uses the PKCS#12 KDF (hash chain, one WebCrypto call per iteration), as OpenSSL 3.0 does. */
export const MODERN_MAC_ITERATIONS = 2_048;

/** PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (RFC 8018), the OpenSSL 3 default. */
async function encryptPbes2(plaintext: Bytes, password: string): Promise<Encrypted> {
  const subtle = globalThis.crypto.subtle;
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  // PBES2 takes the password as UTF-8 octets (unlike the PKCS#12 KDF's BMPString), as OpenSSL and NSS expect.
  const baseKey = await subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveKey']);
  const aesKey = await subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: MODERN_PBKDF2_ITERATIONS },
    baseKey,
    { name: 'AES-CBC', length: 256 },
    false,
    ['encrypt'],
  );
  const ciphertext = copyBytes(await subtle.encrypt({ name: 'AES-CBC', iv }, aesKey, plaintext));

  const params = new Pbes2Params({
    keyDerivationFunc: new AlgorithmIdentifier({
      algorithm: OID.pbkdf2,
      parameters: AsnConvert.serialize(
        new Pbkdf2Params({
          salt: new OctetString(salt),
          iterationCount: MODERN_PBKDF2_ITERATIONS,
          prf: new AlgorithmIdentifier({ algorithm: OID.hmacWithSHA256, parameters: null }),
        }),
      ),
    }),
    encryptionScheme: new AlgorithmIdentifier({ algorithm: OID.aes256Cbc, parameters: AsnConvert.serialize(new OctetString(iv)) }),
  });
  return { algorithm: new AlgorithmIdentifier({ algorithm: OID.pbes2, parameters: AsnConvert.serialize(params) }), ciphertext };
}

export const modernScheme: Pkcs12Scheme = {
  encrypt: encryptPbes2,
  mac: { hash: 'SHA-256', iterations: MODERN_MAC_ITERATIONS },
};
