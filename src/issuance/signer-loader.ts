import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../errors.ts';
import type { CaKeyLocation, CaRecord } from '../store/index.ts';
import { bytesEqual } from './bytes.ts';
import { Pkcs11Signer, Pkcs11Tokens } from './pkcs11-signer.ts';
import { encryptPrivateKey, FileSigner, generateCaKeyPair, type KeyAlgorithm, type Signer } from './signer.ts';

/** Where CA keys are opened: the CA passphrase (asked for only when a file key is used) and the PKCS#11 tokens. */
export interface KeySources {
  passphrase(): string;
  pkcs11: Pkcs11Tokens;
}

/** Where a new CA key is made: encrypted into the database (the default), or in the configured PKCS#11 token. */
export type KeyStorage = CaKeyLocation['kind'];

function describe(key: CaKeyLocation): string {
  switch (key.kind) {
    case 'file':
      return 'encrypted in the database';
    case 'pkcs11':
      return `PKCS#11 token "${key.tokenLabel}", key "${key.keyLabel}"`;
  }
}

function openSigner(ca: Pick<CaRecord, 'name' | 'key'>, sources: KeySources): Signer {
  const key = ca.key;
  switch (key.kind) {
    case 'file': {
      const passphrase = sources.passphrase();
      try {
        return FileSigner.fromEncryptedPem(key.encryptedKeyPem, passphrase);
      } catch {
        throw new ConfigError('ca_passphrase', `cannot decrypt the key of CA "${ca.name}": wrong MAILCA_CA_PASSPHRASE`);
      }
    }
    case 'pkcs11':
      return Pkcs11Signer.find(sources.pkcs11.get(key.tokenLabel), key.keyLabel, key.keyId);
  }
}

/**
 * The signer for a CA, from its stored key location: the file signer or the PKCS#11 signer. A key
 * whose public key is not the one in the CA certificate is refused: nothing is signed with it.
 */
export function loadSigner(ca: Pick<CaRecord, 'id' | 'name' | 'key' | 'certificatePem'>, sources: KeySources): Signer {
  const signer = openSigner(ca, sources);
  const certified = new Uint8Array(new X509Certificate(ca.certificatePem).publicKey.export({ type: 'spki', format: 'der' }));
  if (!bytesEqual(certified, signer.publicKeySpki)) {
    throw new ConfigError('ca_key_mismatch', `the key of CA ${ca.id} "${ca.name}" (${describe(ca.key)}) does not match the CA certificate: refusing to sign with it`);
  }
  return signer;
}

/** A key for a new CA, and where it lives (what the database records). */
export function createCaKey(storage: KeyStorage, alg: KeyAlgorithm, sources: KeySources): { signer: Signer; key: CaKeyLocation } {
  switch (storage) {
    case 'file': {
      const passphrase = sources.passphrase();
      const encryptedKeyPem = encryptPrivateKey(generateCaKeyPair(alg).privateKey, passphrase);
      return { signer: FileSigner.fromEncryptedPem(encryptedKeyPem, passphrase), key: { kind: 'file', encryptedKeyPem } };
    }
    case 'pkcs11': {
      const { tokenLabel, keyLabel } = sources.pkcs11.settings;
      if (!tokenLabel) throw new ConfigError('pkcs11_token', 'MAILCA_PKCS11_TOKEN_LABEL is not set: it names the PKCS#11 token that holds the CA key');
      if (!keyLabel) throw new ConfigError('pkcs11_key', 'MAILCA_PKCS11_KEY_LABEL is not set: it names the CA key pair in the token (made if missing)');
      const signer = Pkcs11Signer.findOrGenerate(sources.pkcs11.get(tokenLabel), keyLabel, alg);
      return { signer, key: { kind: 'pkcs11', ...signer.reference } };
    }
  }
}
