// Loaded on demand: key generation, the CSR and the PKCS#12 file, all in this browser.
// The private key is exported only into the password-protected PKCS#12 built here; it is never sent.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { buildPkcs12, type Pkcs12Format } from '../pkcs12/index.ts';

export type KeyType = 'P-256' | 'RSA-2048';

x509.cryptoProvider.set(crypto);

const ALGORITHMS: Record<KeyType, { generate: EcKeyGenParams | RsaHashedKeyGenParams; signing: Algorithm | EcdsaParams }> = {
  'P-256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  'RSA-2048': {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    signing: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

export interface KeyAndCsr {
  keys: CryptoKeyPair;
  csrPem: string;
}

/** A new key pair (extractable only so that it can go into the PKCS#12) and a CSR signed with it. */
export async function makeKeyAndCsr(keyType: KeyType, email: string): Promise<KeyAndCsr> {
  const alg = ALGORITHMS[keyType];
  const keys = (await crypto.subtle.generateKey(alg.generate, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg.signing,
    name: [{ CN: [email] }],
  });
  return { keys, csrPem: csr.toString('pem') };
}

export function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) [^-]+-----/g, '').replace(/\s+/g, '');
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export async function makePkcs12(opts: { keys: CryptoKeyPair; certificatePem: string; chainPem: string[]; password: string; friendlyName: string; format: Pkcs12Format }): Promise<Uint8Array> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', opts.keys.privateKey));
  try {
    return await buildPkcs12({
      privateKeyPkcs8: pkcs8,
      certificateDer: pemToDer(opts.certificatePem),
      chainDer: opts.chainPem.map(pemToDer),
      password: opts.password,
      friendlyName: opts.friendlyName,
      format: opts.format,
    });
  } finally {
    pkcs8.fill(0);
  }
}
