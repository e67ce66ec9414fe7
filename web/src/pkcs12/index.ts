import { copyBytes } from './bytes.ts';
import { legacyScheme } from './legacy.ts';
import { modernScheme } from './modern.ts';
import { buildPfx } from './pfx.ts';

export type Pkcs12Format = 'modern' | 'legacy';

export interface Pkcs12Input {
  /** DER PKCS#8 of the private key (from crypto.subtle.exportKey('pkcs8', …)). */
  privateKeyPkcs8: Uint8Array;
  /** The leaf certificate, DER. */
  certificateDer: Uint8Array;
  /** CA certificate(s), DER, included so clients that need the chain get it. */
  chainDer: Uint8Array[];
  password: string;
  /** e.g. "alice@example.test (Laptop Thunderbird)"; empty omits the attribute. */
  friendlyName: string;
  format: Pkcs12Format;
}

/**
 * Builds a password-protected PKCS#12 (DER .p12) in the browser or Node, using only WebCrypto (+ des.js for legacy).
 * - modern: PBES2 (PBKDF2-HMAC-SHA256) + AES-256-CBC for key and certificates, HMAC-SHA256 MAC.
 * - legacy: pbeWithSHAAnd3-KeyTripleDES-CBC for key and certificates, HMAC-SHA1 MAC.
 */
export async function buildPkcs12(input: Pkcs12Input): Promise<Uint8Array> {
  if (input.format !== 'modern' && input.format !== 'legacy') throw new TypeError(`unknown PKCS#12 format: ${String(input.format)}`);
  if (typeof input.password !== 'string') throw new TypeError('password must be a string');
  if (input.privateKeyPkcs8.length === 0) throw new TypeError('privateKeyPkcs8 is empty');
  if (input.certificateDer.length === 0) throw new TypeError('certificateDer is empty');
  return buildPfx(
    {
      privateKeyPkcs8: copyBytes(input.privateKeyPkcs8),
      certificateDer: copyBytes(input.certificateDer),
      chainDer: input.chainDer.map((der) => copyBytes(der)),
      password: input.password,
      friendlyName: input.friendlyName,
    },
    input.format === 'modern' ? modernScheme : legacyScheme,
  );
}
