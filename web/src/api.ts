/** The mailca JSON API (/api/v1) with the session cookie; failures become ApiError with a message in words. */

export interface User {
  email: string;
  name: string | null;
  admin: boolean;
  created_at: string;
  disabled_at: string | null;
  /** Sender aliases: other addresses the user's certificates may send as (in GET /users). */
  aliases?: string[];
  /** In GET /users: must they present a certificate (enforced) or may they still use a password (grace); null when disabled. */
  enforcement?: 'enforced' | 'grace' | null;
  enforced_from?: string | null;
  active_certificates?: number;
}

export interface Readiness {
  users_total: number;
  enrolled: number;
  enforced: number;
  grace: number;
  enrolled_percent: number;
  not_enrolled: string[];
  enforced_without_certificate: string[];
  ready_to_enforce: string[];
}

export interface EnforcementPolicy {
  after_first_enrolment_days: number | null;
  deadline: string | null;
}

export interface UserPage {
  users: User[];
  total: number;
  limit: number;
  offset: number;
}

export type CertificateStatus = 'active' | 'revoked' | 'expired' | 'not_yet_valid';

export interface Certificate {
  serial: string;
  email: string;
  subject: string;
  status: CertificateStatus;
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
  device_label: string | null;
  created_at: string;
  revoked_at: string | null;
  revocation_reason: string | null;
  /** Serial of the certificate this one renewed, or null. */
  renewal_of?: string | null;
  /** Serial of the certificate that renewed this one, or null. */
  renewed_by?: string | null;
  /** When the predecessor of a renewal stops being accepted (superseded); null when not in an overlap. */
  overlap_ends?: string | null;
  /** When Renew becomes available (only in the user's own list). */
  renewal_opens?: string;
  /** The server's word on whether Renew is available now (in the window, or the issuing CA retired); absent on older servers. */
  renewable?: boolean;
  certificate: string;
}

export interface Enrolment {
  serial: string;
  email: string;
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
  device_label: string | null;
  certificate: string;
  chain: string[];
}

export interface Renewal extends Enrolment {
  renewal_of: string;
}

/** The signed-in user's migration state: in grace a password still sends mail; enforced, only a certificate. */
export interface MigrationState {
  state: 'grace' | 'enforced';
  /** When a user in grace becomes enforced by schedule (or when an enforced one did); null if no date applies. */
  enforced_from: string | null;
}

export interface PortalSettings {
  smtp: { host: string; ports: { port: number; security: 'tls' | 'starttls' }[]; auth: 'none' | 'external' };
  /** null when the server has no decision for this user (e.g. disabled meanwhile). */
  enforcement: MigrationState | null;
  session_idle_minutes: number | null;
  ca_certificate_url: string;
}

export interface Overview {
  window_days: number;
  users: number;
  users_with_active_certificate: number;
  certificates_expiring_soon: number;
  revocations_recent: number;
}

export interface CertificatePage {
  certificates: Certificate[];
  total: number;
  limit: number;
  offset: number;
}

/** GET /sign-in: whether the server takes passwords, and the providers the browser is sent to ("Sign in with <label>"). */
export interface SignInOptions {
  password: boolean;
  providers: { name: string; label: string; start: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server says the session is gone (signed out elsewhere or idle too long). */
let onSessionLost: (() => void) | undefined;
let onActivity: (() => void) | undefined;
export function setSessionHandlers(lost: () => void, activity: () => void): void {
  onSessionLost = lost;
  onActivity = activity;
}

const FRIENDLY: Record<string, string> = {
  invalid_credentials: 'The email address or password is not correct. Check both and try again.',
  missing_credentials: 'Enter your email address and password.',
  unauthenticated: 'You are signed out. Please sign in again.',
  forbidden: 'This is only for administrators.',
  bad_origin: 'The request came from another site and was refused. Reload the page and try again.',
};

export async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
  }
  let data: Record<string, unknown> = {};
  try {
    data = (await res.json()) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  if (res.ok) {
    onActivity?.();
    return data as T;
  }
  const code = typeof data.error === 'string' ? data.error : `http_${res.status}`;
  const serverMessage = typeof data.message === 'string' ? data.message : '';
  const message = FRIENDLY[code] ?? (serverMessage ? sentence(serverMessage) : `The server answered with an error (${res.status}). Please try again.`);
  if (res.status === 401 && path !== '/login' && path !== '/me') onSessionLost?.();
  throw new ApiError(res.status, code, message);
}

function sentence(s: string): string {
  const t = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** A revoke answer: keyCompromise also revokes every other certificate with that key (`also_revoked`, serials). */
export interface Revocation {
  certificate: Certificate;
  also_revoked: string[];
}

/** "" when nothing else was revoked, else a sentence naming the other certificates. */
export function alsoRevokedSentence(r: Revocation): string {
  const n = r.also_revoked.length;
  if (n === 0) return '';
  return ` ${n === 1 ? 'One other certificate uses' : `${n} other certificates use`} the same key and ${n === 1 ? 'was' : 'were'} revoked too: serial ${r.also_revoked.join(', ')}.`;
}

export const api = {
  me: () => request<{ user: User }>('GET', '/me'),
  signInOptions: () => request<SignInOptions>('GET', '/sign-in'),
  login: (email: string, password: string) => request<{ user: User }>('POST', '/login', { email, password }),
  logout: () => request<{ signed_out: true }>('POST', '/logout', {}),
  myCertificates: () => request<{ certificates: Certificate[] }>('GET', '/me/certificates'),
  enrol: (csr: string, deviceLabel: string) => request<Enrolment>('POST', '/enrol', { csr, device_label: deviceLabel }),
  renew: (serial: string, csr: string, deviceLabel: string) => request<Renewal>('POST', `/me/certificates/${encodeURIComponent(serial)}/renew`, { csr, device_label: deviceLabel }),
  endOverlap: (serial: string) => request<{ certificate: Certificate }>('POST', `/me/certificates/${encodeURIComponent(serial)}/end-overlap`, {}),
  revokeMine: (serial: string, reason: string) => request<Revocation>('POST', `/me/certificates/${encodeURIComponent(serial)}/revoke`, { reason }),
  settings: () => request<PortalSettings>('GET', '/portal-settings'),
  // admin
  overview: () => request<Overview>('GET', '/overview'),
  searchCertificates: (q: string, status: string, offset = 0, limit = 50) =>
    request<CertificatePage>('GET', `/certificate-search?${new URLSearchParams({ q, status, offset: String(offset), limit: String(limit) })}`),
  revokeAny: (serial: string, reason: string) => request<Revocation>('POST', `/certificates/${encodeURIComponent(serial)}/revoke`, { reason }),
  /** One page of users; `q` = the start of an address. */
  users: (q = '', offset = 0, limit = 50) => request<UserPage>('GET', `/users?${new URLSearchParams({ q, offset: String(offset), limit: String(limit) })}`),
  /** Without a password the server makes one and returns it once as generated_password; the user's sessions end. */
  resetPassword: (email: string, password?: string) => request<{ user: User; generated_password?: string }>('POST', `/users/${encodeURIComponent(email)}/password`, password ? { password } : {}),
  enableUser: (email: string) => request<{ user: User }>('POST', `/users/${encodeURIComponent(email)}/enable`, {}),
  unlockUser: (email: string) => request<{ user: User }>('POST', `/users/${encodeURIComponent(email)}/unlock`, {}),
  readiness: () => request<Readiness>('GET', '/readiness'),
  readinessHistory: (days = 90) => request<{ users_total: number; days: { date: string; enrolled: number }[] }>('GET', `/readiness/history?days=${days}`),
  enforcementPolicy: () => request<EnforcementPolicy>('GET', '/enforcement/policy'),
  setEnforcementPolicy: (p: EnforcementPolicy) => request<EnforcementPolicy>('PUT', '/enforcement/policy', p),
  enforceUser: (email: string) => request<{ user: { email: string; state: string } }>('POST', `/users/${encodeURIComponent(email)}/enforcement`, { state: 'enforced' }),
  enforceEnrolled: () => request<{ users_changed: number }>('POST', '/enforcement/enrolled', {}),
  enforceEverybody: () => request<{ users_changed: number }>('POST', '/enforcement/all', { state: 'enforced' }),
  changeMyPassword: (currentPassword: string, newPassword: string) => request<{ changed: true }>('POST', '/me/password', { current_password: currentPassword, new_password: newPassword }),
  /** Without a password the server makes one and returns it once as generated_password. */
  addUser: (u: { email: string; name: string; password?: string; admin: boolean }) => request<{ user: User; generated_password?: string }>('POST', '/users', u),
  aliases: (email: string) => request<{ aliases: string[] }>('GET', `/users/${encodeURIComponent(email)}/aliases`),
  addAlias: (email: string, alias: string) => request<{ email: string; alias: string; aliases: string[] }>('POST', `/users/${encodeURIComponent(email)}/aliases`, { alias }),
  removeAlias: (email: string, alias: string) => request<Record<string, never>>('DELETE', `/users/${encodeURIComponent(email)}/aliases/${encodeURIComponent(alias)}`),
  disableUser: (email: string) => request<{ user: User; revoked_serials: string[] }>('POST', `/users/${encodeURIComponent(email)}/disable`, {}),
};
