import type { MtaKind } from '../formats/index.ts';

/** The formats with an MTA configuration (the consumer-format registry says which). */
export type { MtaKind };
export type PolicyNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** Files that mailca's publishers write; generated configs reference them. */
export interface PublishedPaths {
  /** Postfix access(5) table for check_ccert_access (texthash): `AB:CD:…:EF OK`. */
  postfixAllowlist: string;
  /** Exim lsearch: `ABCDEF…(64 hex, no colons): alice@example.test`. */
  eximAllowlist: string;
  /** PEM CA certificate(s) that issue client certificates. */
  caBundle: string;
  /** PEM CRL(s) of the CA(s). */
  crlPem: string;
  /** Postfix check_sasl_access table (texthash): `alice@example.test REJECT 5.7.1 …`. */
  postfixEnforcement: string;
  /** Exim lsearch: `alice@example.test: enforced`. */
  eximEnforcement: string;
  /** The JSON allow-list (certificates with owner and senders, enforced users) the pull client's policy service loads. */
  jsonAllowlist: string;
  /** Postfix smtpd_sender_login_maps table: `sender@example.test login@example.test` (cdb variant). */
  postfixSenders: string;
  /** Exim lsearch of the addresses a password login may send as: `login@example.test: login@example.test : alias@…`. */
  eximSenders: string;
  /** Dovecot passwd-file: `<serial>:::::::nopassword=yes user=<address>`. */
  dovecotAllowlist: string;
  /** Dovecot passwd-file of enforced users (`alice@example.test:`), for a deny passdb. */
  dovecotEnforcement: string;
  /** The CA bundle followed by the CRLs (Dovecot's ssl_ca). */
  caCrl: string;
}

/**
 * How generated Postfix configs decide on certificates: the pull client's policy service (check_policy_service and a
 * socketmap for the senders table; changes apply at the next RCPT, no reload), or cdb: maps rebuilt by `postmap` in
 * the pull's --then (noticed at the next connection, no reload; certificates are not bound to senders).
 */
export type PostfixMaps = 'policy-service' | 'cdb';

/** Where Postfix's smtpd finds its SASL server (smtpd_sasl_type / smtpd_sasl_path). */
export interface PostfixSasl {
  type: 'dovecot' | 'cyrus';
  /** dovecot: socket relative to the queue directory (e.g. `private/auth`); cyrus: the application name (`smtpd`). */
  path: string;
}

/** How Exim checks passwords: a Dovecot auth socket, or an lsearch file of `login: {crypt}HASH` lines. */
export type EximSasl =
  | { driver: 'dovecot'; socket: string }
  | { driver: 'lsearch-crypteq'; passwordFile: string };

export type EximLookup = 'lsearch' | 'policy-service';

/**
 * What an MTA's configuration is made from. `mailca mta-config` gives all of it; each generator takes what it needs.
 */
export interface MtaConfigOptions {
  mta: MtaKind;
  /** One of the eight submission policies: required by generators with `policies: true`, refused by the others. */
  policy?: PolicyNumber;
  paths: PublishedPaths;
  /** The server's host name (Exim primary_hostname; the server certificate should name it). */
  hostname: string;
  /** Enrolment portal named in refusal messages. */
  portalUrl: string;
  tls: { certFile: string; keyFile: string };
  /** Listening ports; defaults 465 (TLS on connect), 587 (STARTTLS) and 993 (IMAP over TLS). */
  ports?: { tlsOnConnect?: number; submission?: number; imaps?: number };
  /** Bind address; default all addresses. */
  listenAddress?: string;
  /** Default: Dovecot on `private/auth`. */
  postfixSasl?: PostfixSasl;
  /** Default: Dovecot on `/run/dovecot/auth-client`. */
  eximSasl?: EximSasl;
  /** Default: policy-service. */
  postfixMaps?: PostfixMaps;
  /** Where the pull client's policy service listens (--policy-listen); default `inet:127.0.0.1:10040`. */
  policyService?: string;
  /** How Exim finds a certificate's entry: the lsearch file (default) or the policy service. */
  eximLookup?: EximLookup;
  /** Dovecot: the site's passwd-file for password logins of users in grace (`user:{SCHEME}hash`); default `/etc/dovecot/users`. */
  dovecotPasswords?: string;
}

/** The options of a submission MTA's generator: a policy is given. */
export type SubmissionConfigOptions = MtaConfigOptions & { policy: PolicyNumber };

/** One piece of a rendered configuration: the text for one file (named when an MTA needs several). */
export interface ConfigPart {
  readonly file?: string;
  readonly text: string;
}

/** What every MTA configuration has: a heading, the parts to paste, in order, and notes for the operator. */
export interface RenderedConfig {
  readonly mta: string;
  /** What the configuration does (printed first, as a comment). */
  readonly title: string;
  readonly parts: readonly ConfigPart[];
  readonly notes: string;
}

/**
 * An MTA's configuration generator; a consumer format that an MTA reads links to one (`mtaConfig`). Pure: no I/O.
 * A submission MTA's configuration is one of the eight policies (`policies: true`, `--policy` required); others
 * (IMAP logins) take none.
 */
export type MtaConfigGenerator<R extends RenderedConfig = RenderedConfig> =
  | { readonly policies: true; readonly configures: string; render(opts: SubmissionConfigOptions): R }
  | { readonly policies: false; readonly configures: string; render(opts: MtaConfigOptions): R };

export interface RenderedPostfixConfig extends RenderedConfig {
  mta: 'postfix';
  /** Lines to add to main.cf (only mailca_pN_* parameters; nothing global is overridden). */
  mainCf: string;
  /** The service entry to add to master.cf. */
  masterCf: string;
  notes: string;
}

export interface RenderedEximConfig extends RenderedConfig {
  mta: 'exim';
  /** A complete runnable configuration: main options, ACLs, authenticators, routers, transports, retry. */
  eximConf: string;
  notes: string;
}

export interface RenderedDovecotConfig extends RenderedConfig {
  mta: 'dovecot';
  /** A dovecot.conf fragment (e.g. conf.d/99-mailca.conf) for Dovecot 2.3. */
  dovecotConf: string;
  notes: string;
}
