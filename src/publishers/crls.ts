import { createHash } from 'node:crypto';
import { MINUTE_MS, type Clock } from '../clock.ts';
import type { CaKeyring } from '../issuance/authority.ts';
import { encodeCrlEntry } from '../issuance/crl-entry.ts';
import { buildCrlFromEncodedEntries, toPemInSlices } from '../issuance/crl.ts';
import { isRevocationReason } from '../issuance/revocation-reasons.ts';
import type { CaRecord, Store, StoredCrl, StoredCrlEntry } from '../store/index.ts';
import { TimeSlicer } from '../time-slice.ts';

/** A CA's current CRL: as stored (DER), and as crl.pem carries it. */
export interface CrlRecord extends StoredCrl {
  crlPem: string;
}

export interface CrlPolicy {
  lifetimeMs: number;
}

/** The CRL entry as stored at revocation, or encoded now for a row revoked before entries were stored. */
export function crlEntryOf(e: StoredCrlEntry): Uint8Array {
  if (e.crlEntryDer) return e.crlEntryDer;
  return encodeCrlEntry({ serial: e.serial, revokedAt: e.revokedAt, reason: isRevocationReason(e.reason) ? e.reason : 'unspecified' });
}

/**
 * What the CRL would carry: a hash of the encoded entries in order. An entry's encoding holds its serial,
 * revocation time (to the second) and reason, so this moves whenever the CRL's content would.
 */
async function stateHash(encodedEntries: readonly Uint8Array[]): Promise<string> {
  const h = createHash('sha256');
  const slicer = new TimeSlicer();
  for (const entry of encodedEntries) {
    h.update(entry);
    if (slicer.due()) await slicer.yield();
  }
  return h.digest('hex');
}

const CRL_BACKDATE_MS = 5 * MINUTE_MS;

/** A CRL is re-signed when the revocations change, and halfway through its validity. */
export function crlRefreshDue(crl: Pick<CrlRecord, 'nextUpdate'>, lifetimeMs: number): Date {
  return new Date(crl.nextUpdate.getTime() - lifetimeMs / 2);
}

/** Where a CRL's entries come from: by default a read of every revoked row of the CA. */
export interface CrlEntrySource {
  /** The CA's CRL entries at `now`, in serial order, as of a read through `store`. */
  entries(store: Store, caId: number, now: Date): Promise<Uint8Array[]>;
}

const fromDatabase: CrlEntrySource = {
  entries: async (store, caId, now) => (await store.certificates.listCrlEntries(caId, now)).map(crlEntryOf),
};

/** The stored CRL and the revocations it should hold now; `fresh` when it needs no re-signing. */
async function crlState(store: Store, ca: CaRecord, policy: CrlPolicy, now: Date, source: CrlEntrySource) {
  // Without the PEM: reading megabytes is a synchronous stall on SQLite, and most checks re-sign anyway.
  const current = await store.crls.findMeta(ca.id);
  const encodedEntries = await source.entries(store, ca.id, now);
  const hash = await stateHash(encodedEntries);
  const fresh = current !== undefined && current.stateHash === hash && now < crlRefreshDue(current, policy.lifetimeMs);
  return { current, encodedEntries, hash, fresh };
}

/** The stored CRL, when crlState found it fresh. */
async function storedCrl(store: Store, caId: number): Promise<CrlRecord> {
  const crl = await store.crls.find(caId);
  if (!crl) throw new Error(`CA ${caId}: its CRL is gone`);
  return { ...crl, crlPem: await toPemInSlices(crl.crlDer, 'X509 CRL') };
}

/** Signs the CRL that follows `current` with these entries (built in slices, off the event loop's critical path). */
async function signNext(deps: { keyring: CaKeyring }, ca: CaRecord, policy: CrlPolicy, now: Date, current: Pick<CrlRecord, 'crlNumber'> | undefined, encodedEntries: readonly Uint8Array[], hash: string): Promise<CrlRecord> {
  const issuer = await deps.keyring.forCa(ca);
  const crlNumber = (current?.crlNumber ?? 0) + 1;
  const nextUpdate = new Date(now.getTime() + policy.lifetimeMs);
  // Backdated like certificates, so an MTA whose clock runs a little slow does not see a CRL from the future.
  const thisUpdate = new Date(now.getTime() - CRL_BACKDATE_MS);
  const crl = await buildCrlFromEncodedEntries({
    signer: issuer.signer,
    caCertificateDer: issuer.certificateDer,
    crlNumber: BigInt(crlNumber),
    thisUpdate,
    nextUpdate,
    encodedEntries,
  });
  return { caId: ca.id, crlNumber, thisUpdate, nextUpdate, crlDer: crl.der, crlPem: crl.pem, stateHash: hash };
}

/**
 * Returns the CA's current CRL, signing a new one (with the next CRL number) if the revocations
 * changed, an entry expired off it, or it is due for refresh.
 *
 * The CRL is built and signed before the CRL lock is taken (on SQLite the lock holds the one
 * connection, so a long build would hold up every other change); under the lock it is stored only
 * if the stored CRL is still the one it follows. Its entries were read after that CRL, so it holds
 * every revocation that CRL held (a CRL number never loses an entry); a revocation committed while
 * it was built is in the next one. If another instance stored a CRL meanwhile, it is built again
 * under the lock.
 */
export async function ensureCrl(
  deps: { store: Store; keyring: CaKeyring; clock: Clock },
  ca: CaRecord,
  policy: CrlPolicy,
  source: CrlEntrySource = fromDatabase,
): Promise<CrlRecord> {
  // Most calls (every GET /crl.pem) find the stored CRL current: check without taking the lock.
  const unlocked = await crlState(deps.store, ca, policy, deps.clock.now(), source);
  if (unlocked.fresh && unlocked.current) return storedCrl(deps.store, ca.id);
  const prepared = await signNext(deps, ca, policy, deps.clock.now(), unlocked.current, unlocked.encodedEntries, unlocked.hash);
  return deps.store.withLock('crl', async (tx) => {
    const stored = await tx.crls.findMeta(ca.id);
    if (stored?.crlNumber === unlocked.current?.crlNumber) {
      await tx.crls.save(prepared);
      return prepared;
    }
    const now = deps.clock.now();
    const { current, encodedEntries, hash, fresh } = await crlState(tx, ca, policy, now, source);
    if (fresh && current) return storedCrl(tx, ca.id);
    const record = await signNext(deps, ca, policy, now, current, encodedEntries, hash);
    await tx.crls.save(record);
    return record;
  });
}
