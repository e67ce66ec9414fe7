import { MacData } from '@peculiar/asn1-pfx';
import { DigestInfo } from '@peculiar/asn1-rsa';
import { OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { bmpPassword, randomBytes, type Bytes } from './bytes.ts';
import { OID } from './oids.ts';
import { KDF_HASH_SIZES, KDF_ID, pkcs12Kdf, type Pkcs12KdfHash } from './pkcs12-kdf.ts';

export interface MacParams {
  hash: Pkcs12KdfHash;
  iterations: number;
}

/** RFC 7292 5.1 / appendix B: HMAC keyed with the PKCS#12 KDF (ID 3) over the authSafe content. */
export async function computeMacData(password: string, authSafeContent: Bytes, params: MacParams): Promise<MacData> {
  const subtle = globalThis.crypto.subtle;
  const salt = randomBytes(16);
  const keyBytes = await pkcs12Kdf(params.hash, bmpPassword(password), salt, KDF_ID.mac, params.iterations, KDF_HASH_SIZES[params.hash].u);
  const key = await subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: params.hash }, false, ['sign']);
  const mac = await subtle.sign('HMAC', key, authSafeContent);
  return new MacData({
    mac: new DigestInfo({
      digestAlgorithm: new AlgorithmIdentifier({ algorithm: params.hash === 'SHA-1' ? OID.sha1 : OID.sha256, parameters: null }),
      digest: new OctetString(mac),
    }),
    macSalt: new OctetString(salt),
    iterations: params.iterations,
  });
}
