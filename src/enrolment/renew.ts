import { DAY_MS } from '../clock.ts';
import { BadRequest, Conflict, NotFound } from '../errors.ts';
import type { CertificateRecord, User } from '../store/index.ts';
import { certificateStatus } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext, type IssuancePolicy } from './context.ts';
import { checkCsr } from './csr.ts';
import { issueCertificate, type EnrolmentResult } from './enrol.ts';
import { parseSerial, revoke } from './revoke.ts';

/** Renewal opens `renewalWindowDays` before expiry, or for the last third of a shorter lifetime. */
export function renewalWindowStart(cert: Pick<CertificateRecord, 'notBefore' | 'notAfter'>, policy: Pick<IssuancePolicy, 'renewalWindowDays'>): Date {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  const window = Math.min(policy.renewalWindowDays * DAY_MS, lifetime / 3);
  return new Date(cert.notAfter.getTime() - window);
}

/** Whether a certificate may be renewed now: active, not yet renewed, and in its window or from a CA that no longer issues. */
export function isRenewable(cert: CertificateRecord, now: Date, policy: Pick<IssuancePolicy, 'renewalWindowDays'>, activeCaId: number | undefined): boolean {
  if (certificateStatus(cert, now) !== 'active' || cert.renewedBy) return false;
  return now >= renewalWindowStart(cert, policy) || (activeCaId !== undefined && activeCaId !== cert.caId);
}

async function ownCertificate(ctx: Pick<EnrolmentContext, 'store'>, serialInput: string, ownerUserId: number): Promise<CertificateRecord> {
  const serial = parseSerial(serialInput);
  const cert = await ctx.store.certificates.findBySerial(serial);
  if (!cert || cert.userId !== ownerUserId) throw new NotFound('certificate_not_found', `no certificate with serial ${serial}`);
  return cert;
}

/**
 * Issues the successor of one of the user's certificates: same address, new key. The predecessor
 * stays on the lists for the overlap, then is revoked as superseded.
 */
export async function renew(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { user: User; serial: string; csr: string | Uint8Array; deviceLabel?: unknown },
): Promise<EnrolmentResult> {
  const old = await ownCertificate(ctx, req.serial, req.user.id);
  const now = ctx.clock.now();
  const status = certificateStatus(old, now);
  if (status !== 'active') throw new Conflict('not_renewable', `certificate ${old.serial} is ${status}; enrol a new certificate instead`);
  if (old.renewedBy) throw new Conflict('already_renewed', `certificate ${old.serial} was already renewed by ${old.renewedBy}`);
  if (!isRenewable(old, now, ctx.policy, (await ctx.store.cas.findActive())?.id)) {
    const opens = renewalWindowStart(old, ctx.policy);
    throw new Conflict('not_in_renewal_window', `certificate ${old.serial} can be renewed from ${opens.toISOString()} (it expires ${old.notAfter.toISOString()})`);
  }
  const csr = await checkCsr(req.csr);
  if (csr.spkiSha256 === old.spkiSha256) throw new BadRequest('csr_key_reused', 'a renewal needs a new key; this CSR has the key of the certificate being renewed');
  const overlapEnd = new Date(Math.min(now.getTime() + ctx.policy.renewalOverlapDays * DAY_MS, old.notAfter.getTime()));
  return issueCertificate(ctx, actor, { user: req.user, csr, deviceLabel: req.deviceLabel ?? old.deviceLabel, renewal: { predecessor: old, overlapEnd } });
}

/** The user has installed the successor everywhere: supersede the predecessor now. */
export async function endOverlap(ctx: EnrolmentContext, actor: Actor, req: { user: User; serial: string }): Promise<CertificateRecord> {
  const old = await ownCertificate(ctx, req.serial, req.user.id);
  if (!old.renewedBy || old.revokedAt) throw new Conflict('no_overlap', `certificate ${old.serial} is not in a renewal overlap`);
  await audited(ctx, actor, { action: 'certificate.end_overlap', target: old.serial }, (tx) => tx.certificates.setSupersedeAt(old.serial, ctx.clock.now()));
  await supersedeDue(ctx);
  const updated = await ctx.store.certificates.findBySerial(old.serial);
  if (!updated) throw new NotFound('certificate_not_found', `no certificate with serial ${old.serial}`);
  return updated;
}

/** Revokes (reason superseded) every predecessor whose overlap has ended. Run by the scheduler. */
export async function supersedeDue(ctx: EnrolmentContext): Promise<string[]> {
  const done: string[] = [];
  for (const { serial } of await ctx.store.certificates.listDueSupersessions(ctx.clock.now())) {
    try {
      await revoke(ctx, { id: 'system:renewal-overlap', sourceIp: null }, { serial, reason: 'superseded' });
      done.push(serial);
    } catch (e) {
      if (!(e instanceof Conflict)) throw e; // another instance got there first
    }
  }
  return done;
}
