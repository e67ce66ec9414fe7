import { id_pbeWithSHAAnd3_KeyTripleDES_CBC } from '@peculiar/asn1-pfx';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import des from 'des.js';
import { bmpPassword, randomBytes, type Bytes } from './bytes.ts';
import type { Encrypted, Pkcs12Scheme } from './pfx.ts';
import { KDF_ID, pkcs12Kdf } from './pkcs12-kdf.ts';
import { Pkcs12PbeParams } from './schemas.ts';

/** OpenSSL's PKCS12_DEFAULT_ITER; what older importers are tested against. */
export const LEGACY_ITERATIONS = 2_048;

const DesEde3Cbc = des.CBC.instantiate(des.EDE);

/** pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 appendix C): key and IV from the PKCS#12 KDF with SHA-1. */
async function encryptPbe3Des(plaintext: Bytes, password: string): Promise<Encrypted> {
  const salt = randomBytes(8);
  const pw = bmpPassword(password);
  const [key, iv] = await Promise.all([
    pkcs12Kdf('SHA-1', pw, salt, KDF_ID.key, LEGACY_ITERATIONS, 24),
    pkcs12Kdf('SHA-1', pw, salt, KDF_ID.iv, LEGACY_ITERATIONS, 8),
  ]);
  const cipher = DesEde3Cbc.create({ type: 'encrypt', key, iv }); // PKCS#7 padding is des.js's default
  const ciphertext = new Uint8Array([...cipher.update(plaintext), ...cipher.final()]);
  const params = new Pkcs12PbeParams({ salt: new OctetString(salt), iterations: LEGACY_ITERATIONS });
  return {
    algorithm: new AlgorithmIdentifier({ algorithm: id_pbeWithSHAAnd3_KeyTripleDES_CBC, parameters: AsnConvert.serialize(params) }),
    ciphertext,
  };
}

export const legacyScheme: Pkcs12Scheme = {
  encrypt: encryptPbe3Des,
  mac: { hash: 'SHA-1', iterations: LEGACY_ITERATIONS },
};
