import type { Certificate } from './api.ts';

export const EXPIRING_SOON_DAYS = 30;
/** The portal refuses shorter file passwords; the strength hint encourages longer ones. */
export const MIN_FILE_PASSWORD = 8;
const DAY_MS = 24 * 60 * 60 * 1000;

const dateFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function formatDate(iso: string | null): string {
  return iso ? dateFormat.format(new Date(iso)) : '—';
}
export function formatDateTime(iso: string | null): string {
  return iso ? dateTimeFormat.format(new Date(iso)) : '—';
}

export type DisplayStatus = 'active' | 'expiring' | 'renewed' | 'revoked' | 'expired' | 'not_yet_valid';

type StatusFields = Pick<Certificate, 'status' | 'not_after'> & Partial<Pick<Certificate, 'renewed_by' | 'renewal_opens'>>;

/**
 * The status a person sees. "Renewed": active, but a successor exists and this one is being phased out.
 * "Expiring soon": active with under 30 days left, or already in its renewal window (which may be configured longer).
 */
export function displayStatus(c: StatusFields, now = Date.now()): DisplayStatus {
  if (c.status !== 'active') return c.status;
  if (c.renewed_by) return 'renewed';
  if (new Date(c.not_after).getTime() - now < EXPIRING_SOON_DAYS * DAY_MS) return 'expiring';
  if (c.renewal_opens && now >= new Date(c.renewal_opens).getTime()) return 'expiring';
  return 'active';
}

/**
 * Whether the portal offers Renew: an active certificate not yet renewed, in its renewal window.
 * When the server says `renewable` (it also knows about retired CAs and is not fooled by this computer's clock), that decides.
 */
export function canRenew(c: Pick<Certificate, 'status'> & Partial<Pick<Certificate, 'renewed_by' | 'renewal_opens' | 'renewable'>>, now = Date.now()): boolean {
  if (c.status !== 'active' || c.renewed_by) return false;
  if (typeof c.renewable === 'boolean') return c.renewable;
  return !!c.renewal_opens && now >= new Date(c.renewal_opens).getTime();
}

export const STATUS_LABEL: Record<DisplayStatus, string> = {
  active: 'Active',
  expiring: 'Expiring soon',
  renewed: 'Renewed',
  revoked: 'Revoked',
  expired: 'Expired',
  not_yet_valid: 'Not yet valid',
};

export const REVOCATION_REASONS: { value: string; label: string }[] = [
  { value: 'unspecified', label: 'No reason given (unspecified)' },
  { value: 'keyCompromise', label: 'Key lost or stolen (keyCompromise)' },
  { value: 'affiliationChanged', label: 'Person left or changed role (affiliationChanged)' },
  { value: 'superseded', label: 'Replaced by a new certificate (superseded)' },
  { value: 'cessationOfOperation', label: 'Device no longer used (cessationOfOperation)' },
  { value: 'privilegeWithdrawn', label: 'Access withdrawn (privilegeWithdrawn)' },
  { value: 'cACompromise', label: 'CA compromised (cACompromise)' },
  { value: 'aACompromise', label: 'Attribute authority compromised (aACompromise)' },
];

export function reasonLabel(reason: string | null): string {
  return REVOCATION_REASONS.find((r) => r.value === reason)?.label ?? reason ?? '';
}

/** A rough, honest strength hint for the file password: length matters most. */
export function passwordStrength(pw: string): { score: 0 | 1 | 2 | 3; label: string } {
  if (!pw) return { score: 0, label: 'Choose a password of at least 8 characters; longer is better.' };
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(pw)).length;
  const unique = new Set(pw).size;
  const bits = pw.length * Math.log2(Math.max(2, Math.min(95, classes * 20))) * Math.min(1, unique / 6);
  if (pw.length < MIN_FILE_PASSWORD || bits < 45) return { score: 1, label: 'Weak: use a longer password, for example three or four unrelated words.' };
  if (bits < 70) return { score: 2, label: 'Fair: a few more characters would make it strong.' };
  return { score: 3, label: 'Strong password.' };
}
