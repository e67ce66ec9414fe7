import { createHash } from 'node:crypto';
import { formatFingerprintColons as colonFingerprint } from '../issuance/encoding.ts';
import type { ActiveCertificate } from '../store/index.ts';

export const ALLOWLIST_FORMATS = ['postfix', 'exim', 'json'] as const;
export type AllowlistFormat = (typeof ALLOWLIST_FORMATS)[number];

export const ALLOWLIST_CONTENT_TYPES: Record<AllowlistFormat, string> = {
  postfix: 'text/plain; charset=utf-8',
  exim: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/** "AB:CD:…": what `openssl x509 -fingerprint -sha256` prints and Postfix's check_ccert_access looks up. */
export { colonFingerprint };

// Addresses go into comments and lsearch values; keep those one-line whatever the database holds.
const oneLine = (s: string) => s.replace(/[\r\n]/g, ' ');

/** Postfix access(5) table for check_ccert_access; comments on their own lines. */
export function renderPostfixAllowlist(certs: readonly ActiveCertificate[]): string {
  const lines = ['# mailca: client certificates allowed to submit mail (check_ccert_access, sha256)'];
  for (const c of certs) {
    lines.push(`# ${oneLine(c.email)} serial ${c.serial} expires ${c.notAfter.toISOString()}`);
    lines.push(`${colonFingerprint(c.fingerprintSha256)} OK`);
  }
  return lines.join('\n') + '\n';
}

/** Exim lsearch file: upper-case hex without colons (lsearch cuts unquoted keys at ':') → address. */
export function renderEximAllowlist(certs: readonly ActiveCertificate[]): string {
  const lines = ['# mailca: client certificates allowed to submit mail; key = ${sha256:$tls_in_peercert}'];
  for (const c of certs) lines.push(`${c.fingerprintSha256.toUpperCase()}: ${oneLine(c.email)}`);
  return lines.join('\n') + '\n';
}

export function renderJsonAllowlist(certs: readonly ActiveCertificate[]): string {
  const entries = certs.map((c) => ({
    serial: c.serial,
    fingerprint_sha256: colonFingerprint(c.fingerprintSha256),
    fingerprint_sha256_hex: c.fingerprintSha256,
    address: c.email,
    subject: c.subject,
    not_after: c.notAfter.toISOString(),
  }));
  return JSON.stringify({ certificates: entries }, null, 2) + '\n';
}

export function renderAllowlist(format: AllowlistFormat, certs: readonly ActiveCertificate[]): string {
  switch (format) {
    case 'postfix':
      return renderPostfixAllowlist(certs);
    case 'exim':
      return renderEximAllowlist(certs);
    case 'json':
      return renderJsonAllowlist(certs);
  }
}

/** Strong ETag: the content hash, so the same state always gives the same tag. */
export function contentEtag(body: string | Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}
