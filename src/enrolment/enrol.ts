import { MINUTE_MS, DAY_MS } from '../clock.ts';
import { Conflict, Forbidden, InvalidCsr } from '../errors.ts';
import { toPem } from '../issuance/certificate.ts';
import { leafTemplateFor } from '../issuance/leaf-template.ts';
import { newSerial } from '../issuance/serial.ts';
import { crlUrl } from '../issuance/crl-urls.ts';
import type { CertificateRecord, PendingIssuance, Store, User } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';
import { checkCsr, type CheckedCsr } from './csr.ts';
import { normalizeDeviceLabel } from './identity.ts';

export interface EnrolmentResult {
  record: CertificateRecord;
  /** The CA chain above the certificate (the issuing CA), PEM. */
  chainPem: string[];
}

/** Backdating covers clients whose clocks run a little slow. */
const BACKDATE_MS = 5 * MINUTE_MS;

/**
 * Issues a certificate for `user` from a CSR. The certificate names the user's address and nothing
 * from the request except its public key.
 * Order: check → record (a pending issuance with its audit event) → build and sign → store with its
 * audit event → publish.
 */
export async function enrol(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { user: User; csr: string | Uint8Array; deviceLabel?: unknown },
): Promise<EnrolmentResult> {
  return issueCertificate(ctx, actor, req);
}

/** A renewal: the predecessor stays valid until `overlapEnd`, then it is superseded. */
export interface RenewalLink {
  predecessor: CertificateRecord;
  overlapEnd: Date;
}

export async function issueCertificate(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { user: User; csr: string | Uint8Array | CheckedCsr; deviceLabel?: unknown; renewal?: RenewalLink },
): Promise<EnrolmentResult> {
  const { user } = req;
  if (user.disabledAt) throw new Forbidden('user_disabled', `${user.email} is disabled`);
  const deviceLabel = normalizeDeviceLabel(req.deviceLabel);
  const csr = typeof req.csr === 'string' || req.csr instanceof Uint8Array ? await checkCsr(req.csr) : req.csr;
  const blockedBy = await ctx.store.blockedKeys.findBlockingSerial(csr.spkiSha256);
  if (blockedBy) {
    throw new InvalidCsr(
      'csr_key_blocked',
      `this public key belonged to certificate ${blockedBy}, which was revoked for key compromise; generate a new key`,
    );
  }

  const issuer = await ctx.keyring.active();
  const now = ctx.clock.now();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const wanted = now.getTime() + ctx.policy.certLifetimeDays * DAY_MS;
  const notAfter = new Date(Math.min(wanted, issuer.ca.notAfter.getTime()));
  const serial = newSerial();
  const renewal = req.renewal;
  // Under the audit lock, as disabling is: a user disabled meanwhile gets no certificate.
  const refuseIfDisabled = async (tx: Store) => {
    if ((await tx.users.findById(user.id))?.disabledAt) throw new Forbidden('user_disabled', `${user.email} is disabled`);
  };

  // Record, then sign: the serial, what will be signed and an audit event are committed first, so no
  // signed certificate exists without a trace; a failure after this point stays visible.
  await audited(
    ctx,
    actor,
    {
      action: 'certificate.sign',
      target: serial,
      details: () => ({ email: user.email, ca: issuer.ca.id, spki_sha256: csr.spkiSha256, key: csr.keyDescription, not_after: notAfter.toISOString() }),
    },
    async (tx) => {
      await refuseIfDisabled(tx);
      await tx.pendingIssuances.insert({ serial, caId: issuer.ca.id, userId: user.id, email: user.email, spkiSha256: csr.spkiSha256, notBefore, notAfter, requestedAt: now });
    },
  );

  let record: CertificateRecord;
  try {
    // The profile's fixed parts are encoded once per CA and policy (same bytes as issueLeafCertificate).
    const template = leafTemplateFor({
      signer: issuer.signer,
      caCertificateDer: issuer.certificateDer,
      crlDistributionUrl: ctx.policy.crlBaseUrl ? crlUrl(ctx.policy.crlBaseUrl, issuer.ca.id, 'der') : undefined,
      emailProtection: ctx.policy.emailProtection,
    });
    const issued = await template.issue({ email: user.email, subjectPublicKeySpki: csr.subjectPublicKeySpki, serial, notBefore, notAfter });
    record = {
      serial: issued.serial,
      caId: issuer.ca.id,
      userId: user.id,
      email: user.email,
      subject: issued.subject,
      fingerprintSha256: issued.fingerprintSha256,
      spkiSha256: issued.spkiSha256,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      certificatePem: issued.pem,
      deviceLabel,
      createdAt: now,
      revokedAt: null,
      revocationReason: null,
      renewalOf: renewal?.predecessor.serial ?? null,
      renewedBy: null,
      supersedeAt: null,
    };
    const stored = record;
    await audited(
      ctx,
      actor,
      {
        action: renewal ? 'certificate.renew' : 'certificate.issue',
        target: stored.serial,
        details: () => ({
          email: user.email,
          fingerprint_sha256: stored.fingerprintSha256,
          key: csr.keyDescription,
          not_after: stored.notAfter.toISOString(),
          device_label: deviceLabel,
          ...(renewal ? { renews: renewal.predecessor.serial, overlap_end: renewal.overlapEnd.toISOString() } : {}),
        }),
      },
      async (tx) => {
        // Disabling revokes the user's stored certificates; one signed meanwhile is not stored.
        await refuseIfDisabled(tx);
        await tx.certificates.insert(stored);
        await tx.pendingIssuances.complete(stored.serial);
        if (renewal && !(await tx.certificates.markRenewed(renewal.predecessor.serial, stored.serial, renewal.overlapEnd))) {
          throw new Conflict('already_renewed', `certificate ${renewal.predecessor.serial} was renewed or revoked meanwhile`);
        }
      },
    );
  } catch (e) {
    // A check that refused to store the signed certificate (the user was disabled, or the predecessor
    // renewed, meanwhile) is a routine outcome, not a failure to watch for.
    if (e instanceof Forbidden || e instanceof Conflict) await recordDiscard(ctx, actor, serial, e);
    else await recordFailure(ctx, actor, serial, e);
    throw e;
  }
  await ctx.publish();
  ctx.log.info({ serial: record.serial, email: user.email, actor: actor.id }, 'certificate issued');
  return { record, chainPem: [toPem(issuer.certificateDer, 'CERTIFICATE')] };
}

/** A recorded issuance that did not complete: marked failed, with an audit event, and never lost silently. */
async function recordFailure(ctx: EnrolmentContext, actor: Actor, serial: string, error: unknown): Promise<void> {
  const failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  try {
    await audited(ctx, actor, { action: 'certificate.sign_failed', target: serial, details: () => ({ failure }) }, (tx) =>
      tx.pendingIssuances.fail(serial, ctx.clock.now(), failure),
    );
  } catch (e) {
    ctx.log.error({ err: e, serial, failure }, 'could not record the failure of an issuance; its pending record stays open');
  }
}

/**
 * A signed certificate that a check refused to store: audited with the reason and its pending record closed.
 * It was never stored nor handed out, so it is on no list and needs no revocation.
 */
async function recordDiscard(ctx: EnrolmentContext, actor: Actor, serial: string, refusal: Forbidden | Conflict): Promise<void> {
  try {
    await audited(ctx, actor, { action: 'certificate.discarded', target: serial, details: () => ({ reason: refusal.code, message: refusal.message }) }, (tx) =>
      tx.pendingIssuances.complete(serial),
    );
  } catch (e) {
    ctx.log.error({ err: e, serial, reason: refusal.code }, 'could not record a discarded issuance; its pending record stays open');
  }
}

/** An issuance still open this long after it was recorded was interrupted between its steps. */
const UNFINISHED_AFTER_MS = MINUTE_MS;

/** Recorded issuances that failed, or were interrupted (a crash between recording and storing). */
export function unfinishedIssuances(ctx: Pick<EnrolmentContext, 'store' | 'clock'>): Promise<PendingIssuance[]> {
  return ctx.store.pendingIssuances.listUnfinished(new Date(ctx.clock.now().getTime() - UNFINISHED_AFTER_MS));
}
