import type { EnforcementState, UserEnforcement } from '../../enrolment/enforcement-policy.ts';
import type { MtaConfigGenerator } from '../mta-config/types.ts';

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
  /** The sender-login map (Postfix smtpd_sender_login_maps: sender → logins; Exim: login → senders). */
  readonly senderLogins?: { file: string; render(ctx: ListContext): string };
  /** The MTA whose configuration `mailca mta-config --mta NAME` prints (absent: no MTA reads this format itself). */
  readonly mtaConfig?: MtaConfigGenerator;
  /**
   * What `mailca pull --format NAME` does besides fetching the allow-list. pull/mailca-pull.mjs runs on its own on a
   * mail host and cannot import this registry: its PULL_FORMATS table says the same (test/pull/formats.test.ts checks
   * that every format here is there, with these file names and maps).
   */
  readonly pull: PullDescription;
}

export interface PullDescription {
  /** The format whose sender-login map `--senders-out` fetches (default: this format's own, if it has one). */
  readonly sendersFrom?: string;
  /** `--policy-listen` answers Postfix policy requests and socketmap lookups from this format's list. */
  readonly policyService?: true;
  /**
   * The MTA reads the CA certificates and their CRLs from one file (`--ca-crl-out`, ca-crl.pem) rather than from two
   * (`--ca-out`, `--crl-out`). The pull client fetches any of them with any format.
   */
  readonly caCrl?: true;
}

// Addresses go into comments and lookup values; keep those one-line whatever the database holds.
export const oneLine = (s: string): string => s.replace(/[\r\n]/g, ' ');

export function enrolMessage(portalUrl: string): string {
  return `client certificate required - enrol at ${portalUrl}`;
}
