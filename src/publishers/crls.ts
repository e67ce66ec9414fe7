import { createHash } from 'node:crypto';
import { MINUTE_MS, type Clock } from '../clock.ts';
import type { CaKeyring } from '../issuance/authority.ts';
import { buildCrl } from '../issuance/crl.ts';
import { isRevocationReason } from '../issuance/revocation-reasons.ts';
import type { CaRecord, CrlRecord, RevokedEntry, Store } from '../store/index.ts';

export interface CrlPolicy {
  lifetimeMs: number;
}

function stateHash(entries: readonly RevokedEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.serial} ${e.revokedAt.getTime()} ${e.reason}\n`);
  return h.digest('hex');
}

const CRL_BACKDATE_MS = 5 * MINUTE_MS;

/** A CRL is re-signed when the revocations change, and halfway through its validity. */
export function crlRefreshDue(crl: CrlRecord, lifetimeMs: number): Date {
  return new Date(crl.nextUpdate.getTime() - lifetimeMs / 2);
}

/** The stored CRL and the revocations it should hold now; `fresh` when it needs no re-signing. */
async function crlState(store: Store, ca: CaRecord, policy: CrlPolicy, now: Date) {
  const current = await store.crls.find(ca.id);
  const entries = await store.certificates.listRevokedUnexpired(ca.id, now);
  const hash = stateHash(entries);
  const fresh = current !== undefined && current.stateHash === hash && now < crlRefreshDue(current, policy.lifetimeMs);
  return { current, entries, hash, fresh };
}

/**
 * Returns the CA's current CRL, signing a new one (with the next CRL number) if the revocations
 * changed, an entry expired off it, or it is due for refresh.
 */
export async function ensureCrl(deps: { store: Store; keyring: CaKeyring; clock: Clock }, ca: CaRecord, policy: CrlPolicy): Promise<CrlRecord> {
  // Most calls (every GET /crl.pem) find the stored CRL current: check without taking the lock.
  const unlocked = await crlState(deps.store, ca, policy, deps.clock.now());
  if (unlocked.fresh && unlocked.current) return unlocked.current;
  return deps.store.withLock('crl', async (tx) => {
    const now = deps.clock.now();
    const { current, entries, hash, fresh } = await crlState(tx, ca, policy, now);
    if (fresh && current) return current;

    const issuer = await deps.keyring.forCa(ca);
    const crlNumber = (current?.crlNumber ?? 0) + 1;
    const nextUpdate = new Date(now.getTime() + policy.lifetimeMs);
    // Backdated like certificates, so an MTA whose clock runs a little slow does not see a CRL from the future.
    const thisUpdate = new Date(now.getTime() - CRL_BACKDATE_MS);
    const crl = await buildCrl({
      signer: issuer.signer,
      caCertificateDer: issuer.certificateDer,
      crlNumber: BigInt(crlNumber),
      thisUpdate,
      nextUpdate,
      entries: entries.map((e) => ({ serial: e.serial, revokedAt: e.revokedAt, reason: isRevocationReason(e.reason) ? e.reason : 'unspecified' })),
    });
    const record: CrlRecord = { caId: ca.id, crlNumber, thisUpdate, nextUpdate, crlPem: crl.pem, stateHash: hash };
    await tx.crls.save(record);
    return record;
  });
}
