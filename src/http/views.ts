import type { IssuancePolicy } from '../enrolment/context.ts';
import { renewalWindowStart } from '../enrolment/renew.ts';
import type { UserSummary } from '../enrolment/user-list.ts';
import { formatFingerprintColons } from '../issuance/encoding.ts';
import { certificateStatus, type AuditEvent, type CertificateRecord, type User } from '../store/index.ts';

/** JSON shapes of the API; snake_case, ISO times, fingerprints as openssl prints them. */
export function certificateView(c: CertificateRecord, now: Date, renewal?: Pick<IssuancePolicy, 'renewalWindowDays'>) {
  return {
    serial: c.serial,
    email: c.email,
    subject: c.subject,
    status: certificateStatus(c, now),
    fingerprint_sha256: formatFingerprintColons(c.fingerprintSha256),
    not_before: c.notBefore.toISOString(),
    not_after: c.notAfter.toISOString(),
    device_label: c.deviceLabel,
    created_at: c.createdAt.toISOString(),
    revoked_at: c.revokedAt?.toISOString() ?? null,
    revocation_reason: c.revocationReason,
    renewal_of: c.renewalOf,
    renewed_by: c.renewedBy,
    overlap_ends: c.renewedBy && !c.revokedAt ? (c.supersedeAt?.toISOString() ?? null) : null,
    ...(renewal ? { renewal_opens: renewalWindowStart(c, renewal).toISOString() } : {}),
    certificate: c.certificatePem,
  };
}

export function userView(u: User) {
  return {
    email: u.email,
    name: u.displayName,
    admin: u.isAdmin,
    created_at: u.createdAt.toISOString(),
    disabled_at: u.disabledAt?.toISOString() ?? null,
  };
}

export function userSummaryView(s: UserSummary) {
  return {
    ...userView(s.user),
    aliases: s.aliases,
    enforcement: s.enforcement?.state ?? null,
    enforcement_basis: s.enforcement?.basis ?? null,
    enforced_from: s.enforcement?.enforcedFrom?.toISOString() ?? null,
    active_certificates: s.activeCertificates,
  };
}

export function auditView(e: AuditEvent) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    target: e.target,
    source_ip: e.sourceIp,
    details: e.details,
    hash: e.hash,
  };
}
