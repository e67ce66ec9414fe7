import type { EnforcementState, UserEnforcement } from '../../enrolment/enforcement-policy.ts';

/** One published record per active certificate: every MTA rendering is made from it. */
export interface AllowlistEntry {
  serial: string;
  /** Lowercase hex SHA-256 of the certificate DER. */
  fingerprintSha256: string;
  /** Lowercase hex SHA-256 of the subject public key info. */
  spkiSha256: string;
  /** The owner's address (the certificate's subject and SAN). */
  owner: string;
  subject: string;
  notAfter: Date;
  /** Addresses this certificate may send as: the owner first, then the owner's sender aliases. */
  senders: readonly string[];
  /** The owner's migration state. */
  migration: EnforcementState;
}

/** What the per-user files need to know about one enabled user. */
export interface PublishedUser {
  email: string;
  enforcement: UserEnforcement;
  /** The owner first, then their sender aliases. */
  senders: readonly string[];
}

/** Whole-list facts that formats may put after the entries. */
export interface ListContext {
  /** Enabled users, ordered by address (made as they are iterated: read them in one pass per render). */
  users: Iterable<PublishedUser>;
  portalUrl: string;
}

/**
 * A consumer format: one module each, registered in `./index.ts`. A list is `header`, then the
 * entries (each rendered alone, joined by `separator`), then `footer`, so a publisher can re-render
 * only the entries that changed.
 */
export interface ConsumerFormat {
  readonly name: string;
  readonly contentType: string;
  /** The allow-list's file name in `<data dir>/publish/`. */
  readonly allowlistFile: string;
  readonly separator: string;
  header(): string;
  renderEntry(entry: AllowlistEntry): string;
  footer(ctx: ListContext): string;
  /** The per-user enforcement map (absent for formats that carry enforcement in the list itself). */
  readonly enforcement?: { file: string; render(ctx: ListContext): string };
  /** The sender-login map (Postfix smtpd_sender_login_maps). */
  readonly senderLogins?: { file: string; render(ctx: ListContext): string };
}

// Addresses go into comments and lookup values; keep those one-line whatever the database holds.
export const oneLine = (s: string): string => s.replace(/[\r\n]/g, ' ');

export function enrolMessage(portalUrl: string): string {
  return `client certificate required - enrol at ${portalUrl}`;
}
