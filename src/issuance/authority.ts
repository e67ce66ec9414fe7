import { X509Certificate } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { DAY_MS, MINUTE_MS } from '../clock.ts';
import { Conflict, ConfigError, NotFound } from '../errors.ts';
import type { CaRecord, Store } from '../store/index.ts';
import { createCaCertificate, createCrossCertificate, fingerprintSha256Hex } from './certificate.ts';
import { newSerial } from './serial.ts';
import { encryptPrivateKey, FileSigner, generateCaKeyPair, type KeyAlgorithm, type Signer } from './signer.ts';

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
  passphrase: string;
  clock: Clock;
}

/** Creates a self-signed CA and stores it with its key encrypted under the passphrase. */
export async function createCa(store: Store, opts: CreateCaOptions): Promise<CaRecord> {
  // Distinct subjects keep path building and CRL matching unambiguous during a rollover.
  const clash = (await store.cas.list()).find((ca) => ca.status !== 'retired' && ca.name === opts.name);
  if (clash) throw new Conflict('ca_name_taken', `CA ${clash.id} is already named "${opts.name}"; choose another name (--name)`);
  const now = opts.clock.now();
  const { privateKey } = generateCaKeyPair(opts.keyAlgorithm);
  const encryptedKeyPem = encryptPrivateKey(privateKey, opts.passphrase);
  const signer = FileSigner.fromEncryptedPem(encryptedKeyPem, opts.passphrase);
  const notBefore = new Date(now.getTime() - 5 * MINUTE_MS);
  const notAfter = new Date(now.getTime() + opts.lifetimeDays * DAY_MS);
  const cert = await createCaCertificate({ signer, commonName: opts.name, serial: newSerial(), notBefore, notAfter });
  return store.cas.insert({
    name: opts.name,
    keyAlgorithm: opts.keyAlgorithm,
    certificatePem: cert.pem,
    encryptedKeyPem,
    fingerprintSha256: fingerprintSha256Hex(cert.der),
    notBefore,
    notAfter,
    status: 'active',
    createdAt: now,
  });
}

/** Creates the first CA unless one exists (checked under the issuance lock, so two instances starting together make one). */
export async function ensureCa(store: Store, opts: CreateCaOptions): Promise<{ ca: CaRecord; created: boolean }> {
  return store.withLock('issuance', async (tx) => {
    const existing = await tx.cas.findActive();
    return existing ? { ca: existing, created: false } : { ca: await createCa(tx, opts), created: true };
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
    const fresh = await createCa(tx, opts);
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

/** Decrypts CA keys on first use and keeps their signers; the passphrase never leaves this object. */
export class CaKeyring {
  readonly #signers = new Map<number, Issuer>();
  readonly #passphrase: string;

  constructor(
    private readonly store: Store,
    passphrase: string,
  ) {
    this.#passphrase = passphrase;
  }

  /** The issuer of new certificates. */
  /** The issuing CA is looked up at most once a second (a rotation made elsewhere is seen within that). */
  #active: { issuer: Issuer; until: number } | undefined;

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

  private issuerFor(ca: CaRecord): Issuer {
    const cached = this.#signers.get(ca.id);
    if (cached) return { ...cached, ca };
    let signer: Signer;
    try {
      signer = FileSigner.fromEncryptedPem(ca.encryptedKeyPem, this.#passphrase);
    } catch {
      throw new ConfigError('ca_passphrase', `cannot decrypt the key of CA "${ca.name}": wrong MAILCA_CA_PASSPHRASE`);
    }
    const issuer = { ca, certificateDer: certificateDerOf(ca.certificatePem), signer };
    this.#signers.set(ca.id, issuer);
    return issuer;
  }
}
