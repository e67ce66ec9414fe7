import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
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

/** A CRL is re-signed when the revocations change, and halfway through its validity. */
export function crlRefreshDue(crl: CrlRecord, lifetimeMs: number): Date {
  return new Date(Math.min(crl.thisUpdate.getTime() + lifetimeMs / 2, crl.nextUpdate.getTime()));
}

/**
 * Returns the CA's current CRL, signing a new one (with the next CRL number) if the revocations
 * changed, an entry expired off it, or it is due for refresh.
 */
export async function ensureCrl(deps: { store: Store; keyring: CaKeyring; clock: Clock }, ca: CaRecord, policy: CrlPolicy): Promise<CrlRecord> {
  return deps.store.withLock('crl', async (tx) => {
    const now = deps.clock.now();
    const entries = await tx.certificates.listRevokedUnexpired(ca.id, now);
    const hash = stateHash(entries);
    const current = await tx.crls.find(ca.id);
    if (current && current.stateHash === hash && now < crlRefreshDue(current, policy.lifetimeMs)) return current;

    const issuer = await deps.keyring.forCa(ca);
    const crlNumber = (current?.crlNumber ?? 0) + 1;
    const nextUpdate = new Date(now.getTime() + policy.lifetimeMs);
    const crl = await buildCrl({
      signer: issuer.signer,
      caCertificateDer: issuer.certificateDer,
      crlNumber: BigInt(crlNumber),
      thisUpdate: now,
      nextUpdate,
      entries: entries.map((e) => ({ serial: e.serial, revokedAt: e.revokedAt, reason: isRevocationReason(e.reason) ? e.reason : 'unspecified' })),
    });
    const record: CrlRecord = { caId: ca.id, crlNumber, thisUpdate: now, nextUpdate, crlPem: crl.pem, stateHash: hash };
    await tx.crls.save(record);
    return record;
  });
}
