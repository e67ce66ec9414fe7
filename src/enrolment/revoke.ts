import { BadRequest, Conflict, NotFound } from '../errors.ts';
import { encodeCrlEntry } from '../issuance/crl-entry.ts';
import { ACCEPTED_REVOCATION_REASONS, type RevocationReason } from '../issuance/revocation-reasons.ts';
import type { CertificateRecord } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';

export function parseSerial(input: string): string {
  const serial = input.trim().toLowerCase().replace(/:/g, '');
  if (!/^[0-9a-f]{1,40}$/.test(serial)) throw new BadRequest('invalid_serial', 'a serial is up to 40 hexadecimal digits');
  return serial;
}

/** What a user may say about their own certificate; the CA-level reasons are for admins. */
export const USER_REVOCATION_REASONS: readonly RevocationReason[] = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'];

export function parseRevocationReason(input: unknown, accepted: readonly RevocationReason[] = ACCEPTED_REVOCATION_REASONS): RevocationReason {
  if (input === undefined || input === null || input === '') return 'unspecified';
  if (typeof input !== 'string' || !(accepted as readonly string[]).includes(input)) {
    throw new BadRequest('invalid_reason', `reason must be one of: ${accepted.join(', ')}`);
  }
  return input as RevocationReason;
}

/** What a revocation did: the certificate asked for, and every other one it took with it. */
export interface Revocation {
  certificate: CertificateRecord;
  /** Serials of the other certificates revoked with it (keyCompromise: every one holding the same key). */
  alsoRevoked: string[];
}

/**
 * Revokes a certificate; with `ownerUserId` only that user's own. keyCompromise also revokes every
 * other certificate with that key and blocks the key, so a later CSR with it is refused.
 */
export async function revoke(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { serial: string; reason: unknown; ownerUserId?: number },
): Promise<Revocation> {
  const serial = parseSerial(req.serial);
  const reason = parseRevocationReason(req.reason, req.ownerUserId === undefined ? ACCEPTED_REVOCATION_REASONS : USER_REVOCATION_REASONS);
  const found = await ctx.store.certificates.findBySerial(serial);
  if (!found || (req.ownerUserId !== undefined && found.userId !== req.ownerUserId)) {
    throw new NotFound('certificate_not_found', `no certificate with serial ${serial}`);
  }
  if (found.revokedAt) throw new Conflict('already_revoked', `certificate ${serial} was already revoked on ${found.revokedAt.toISOString()}`);

  const now = ctx.clock.now();
  const alsoRevoked = await audited<string[]>(
    ctx,
    actor,
    { action: 'certificate.revoke', target: serial, details: (alsoRevoked) => ({ email: found.email, reason, ...(alsoRevoked.length ? { same_key_revoked: alsoRevoked } : {}) }) },
    async (tx) => {
      // A concurrent revocation may have won since the read above.
      if (!(await tx.certificates.revoke(serial, now, reason, encodeCrlEntry({ serial, revokedAt: now, reason })))) throw new Conflict('already_revoked', `certificate ${serial} was already revoked`);
      if (reason !== 'keyCompromise') return [];
      // A compromised key is compromised in every certificate that holds it, now and later.
      await tx.blockedKeys.block(found.spkiSha256, serial, now);
      return tx.certificates.revokeAllWithKey(found.spkiSha256, now, 'keyCompromise', (sameKey) =>
        encodeCrlEntry({ serial: sameKey, revokedAt: now, reason: 'keyCompromise' }),
      );
    },
  );
  await ctx.publish();
  ctx.log.info({ serial, reason, actor: actor.id, ...(alsoRevoked.length ? { alsoRevoked } : {}) }, 'certificate revoked');
  return { certificate: { ...found, revokedAt: now, revocationReason: reason }, alsoRevoked };
}
