import { X509Certificate } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { DAY_MS, MINUTE_MS } from '../clock.ts';
import { Conflict, NotFound } from '../errors.ts';
import type { CaRecord, Store } from '../store/index.ts';
import { createCaCertificate, createCrossCertificate, fingerprintSha256Hex } from './certificate.ts';
import { newSerial } from './serial.ts';
import { Pkcs11Tokens, type Pkcs11Settings } from './pkcs11-signer.ts';
import type { KeyAlgorithm, Signer } from './signer.ts';
import { createCaKey, loadSigner, type KeySources, type KeyStorage } from './signer-loader.ts';

/** A CA ready to sign: its record, its certificate and a signer for its key. */
export interface Issuer {
  ca: CaRecord;
  certificateDer: Uint8Array;
  signer: Signer;
}

export interface CreateCaOptions {
  name: string;
  keyAlgorithm: KeyAlgorithm;
  lifetimeDays: number;
  clock: Clock;
  /** Where the new key is made: 'file' (default; encrypted under the CA passphrase) or 'pkcs11' (the configured token; an existing key with the label is used). */
  keyStorage?: KeyStorage;
}

/** Creates a self-signed CA and stores it with its key (encrypted) or a reference to its key in a token. */
export async function createCa(store: Store, keyring: CaKeyring, opts: CreateCaOptions): Promise<CaRecord> {
  // Distinct subjects keep path building and CRL matching unambiguous during a rollover.
  const clash = (await store.cas.list()).find((ca) => ca.status !== 'retired' && ca.name === opts.name);
  if (clash) throw new Conflict('ca_name_taken', `CA ${clash.id} is already named "${opts.name}"; choose another name (--name)`);
  const now = opts.clock.now();
  const { signer, key } = keyring.createKey(opts.keyStorage ?? 'file', opts.keyAlgorithm);
  const notBefore = new Date(now.getTime() - 5 * MINUTE_MS);
  const notAfter = new Date(now.getTime() + opts.lifetimeDays * DAY_MS);
  const cert = await createCaCertificate({ signer, commonName: opts.name, serial: newSerial(), notBefore, notAfter });
  return store.cas.insert({
    name: opts.name,
    keyAlgorithm: opts.keyAlgorithm,
    certificatePem: cert.pem,
    key,
    fingerprintSha256: fingerprintSha256Hex(cert.der),
    notBefore,
    notAfter,
    status: 'active',
    createdAt: now,
  });
}

/** Creates the first CA unless one exists (checked under the issuance lock, so two instances starting together make one). */
export async function ensureCa(store: Store, keyring: CaKeyring, opts: CreateCaOptions): Promise<{ ca: CaRecord; created: boolean }> {
  return store.withLock('issuance', async (tx) => {
    const existing = await tx.cas.findActive();
    return existing ? { ca: existing, created: false } : { ca: await createCa(tx, keyring, opts), created: true };
  });
}

/**
 * CA rollover: a new CA issues from now on; the previous active CA becomes 'retiring' (its
 * certificates stay trusted until they are renewed or expire). With `crossSign`, the old CA also
 * certifies the new CA's key.
 */
export async function rotateCa(store: Store, keyring: CaKeyring, opts: CreateCaOptions & { crossSign: boolean }): Promise<{ ca: CaRecord; previous: CaRecord | undefined }> {
  // One transaction under the issuance lock: the new CA, the demotion and the cross-certificate
  // happen together or not at all, and two rotations cannot interleave.
  return store.withLock('issuance', async (tx) => {
    const previous = await tx.cas.findActive();
    const fresh = await createCa(tx, keyring, opts);
    const now = opts.clock.now();
    for (const ca of await tx.cas.list()) if (ca.id !== fresh.id && ca.status === 'active') await tx.cas.setStatus(ca.id, 'retiring', now);
    if (opts.crossSign && previous) {
      const old = await keyring.forCa(previous);
      const cross = await createCrossCertificate({
        issuerSigner: old.signer,
        issuerCertificateDer: old.certificateDer,
        subjectCertificateDer: certificateDerOf(fresh.certificatePem),
        serial: newSerial(),
        notBefore: new Date(now.getTime() - 5 * MINUTE_MS),
        notAfter: fresh.notAfter,
      });
      await tx.cas.setCrossCertificate(fresh.id, cross.pem);
    }
    return { ca: (await tx.cas.findById(fresh.id)) ?? fresh, previous };
  }).finally(() => keyring.forgetActive());
}

export function certificateDerOf(pem: string): Uint8Array {
  return new Uint8Array(new X509Certificate(pem).raw);
}

/**
 * Opens CA keys on first use (decrypts file keys, finds token keys) and keeps their signers; the
 * passphrase and the PIN never leave this object. Close it to end the PKCS#11 sessions.
 */
export class CaKeyring {
  readonly #signers = new Map<number, Issuer>();
  readonly #sources: KeySources;

  constructor(
    private readonly store: Store,
    opts: { passphrase: string | (() => string); pkcs11?: Pkcs11Settings },
  ) {
    const passphrase = opts.passphrase;
    this.#sources = { passphrase: typeof passphrase === 'string' ? () => passphrase : passphrase, pkcs11: new Pkcs11Tokens(opts.pkcs11 ?? {}) };
  }

  /** The issuing CA is looked up at most once a second (a rotation made elsewhere is seen within that). */
  #active: { issuer: Issuer; until: number } | undefined;

  /** The issuer of new certificates. */
  async active(): Promise<Issuer> {
    if (this.#active && Date.now() < this.#active.until) return this.#active.issuer;
    const ca = await this.store.cas.findActive();
    if (!ca) throw new NotFound('no_ca', 'no CA has been created yet; run `mailca init`');
    const issuer = this.issuerFor(ca);
    this.#active = { issuer, until: Date.now() + 1_000 };
    return issuer;
  }

  /** Forgets the cached issuing CA (after a rotation in this process). */
  forgetActive(): void {
    this.#active = undefined;
  }

  async forCa(ca: CaRecord): Promise<Issuer> {
    return this.issuerFor(ca);
  }

  /** A key for a new CA (see createCa). */
  createKey(storage: KeyStorage, alg: KeyAlgorithm): ReturnType<typeof createCaKey> {
    return createCaKey(storage, alg, this.#sources);
  }

  /** Ends the PKCS#11 sessions (if any were opened). */
  close(): void {
    this.#signers.clear();
    this.#active = undefined;
    this.#sources.pkcs11.close();
  }

  private issuerFor(ca: CaRecord): Issuer {
    const cached = this.#signers.get(ca.id);
    if (cached) return { ...cached, ca };
    const issuer = { ca, certificateDer: certificateDerOf(ca.certificatePem), signer: loadSigner(ca, this.#sources) };
    this.#signers.set(ca.id, issuer);
    return issuer;
  }
}
