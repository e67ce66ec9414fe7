import { assertPort, assertSafe } from './validate.ts';

/** Files a Dovecot host reads: what `mailca pull --format dovecot --enforcement-out … --ca-crl-out …` keeps. */
export interface DovecotPaths {
  /** passwd-file: `<serial>:::::::nopassword=yes user=<address>`. */
  allowlist: string;
  /** passwd-file of enforced users (`alice@example.test:`), for a deny passdb. */
  enforcement: string;
  /** The CA bundle followed by the CRLs (ssl_ca). */
  caCrl: string;
}

export interface DovecotConfigOptions {
  paths: DovecotPaths;
  tls: { certFile: string; keyFile: string };
  /** IMAP over TLS (imaps) port; default 993. */
  imapsPort?: number;
  /** Bind address of the imaps listener; default Dovecot's `listen`. */
  listenAddress?: string;
  /** The site's passwd-file for password logins of users in grace (`user:{SCHEME}hash`). */
  passwordFile: string;
}

export interface RenderedDovecotConfig {
  mta: 'dovecot';
  /** A dovecot.conf fragment (e.g. conf.d/99-mailca.conf) for Dovecot 2.3. */
  dovecotConf: string;
  notes: string;
}

/**
 * The certificate passdb's lookup key: the login name from the certificate (its subject serialNumber) and nothing
 * else. Empty — so no line matches — without a CA-valid certificate (`%{cert}` is "valid" only then), and when the
 * login name is still the one the client typed (a CA-valid certificate without a serialNumber, issued before
 * mailca put one there, leaves the typed name in place: typing someone's serial must not log in as them).
 */
export const CERTIFICATE_LOGIN_KEY = '%{if;%{cert};eq;valid;%{if;%Lu;eq;%L{orig_user};;%Lu};}';

/** Dovecot expands %variables in passdb args and reads `#` as a comment: keep both out of paths. */
function assertDovecotSafe(what: string, value: string): void {
  assertSafe(what, value);
  if (/[#%]/.test(value)) throw new Error(`mta-config: ${what} must not contain # or %: ${JSON.stringify(value)}`);
}

/** Ready-to-paste Dovecot 2.3 configuration for IMAP logins with mailca certificates. Pure: no I/O. */
export function renderDovecotConfig(opts: DovecotConfigOptions): RenderedDovecotConfig {
  for (const [name, value] of Object.entries(opts.paths)) assertDovecotSafe(`paths.${name}`, value);
  assertDovecotSafe('tls.certFile', opts.tls.certFile);
  assertDovecotSafe('tls.keyFile', opts.tls.keyFile);
  assertDovecotSafe('passwordFile', opts.passwordFile);
  if (opts.listenAddress !== undefined) assertDovecotSafe('listenAddress', opts.listenAddress);
  const port = opts.imapsPort ?? 993;
  assertPort('imapsPort', port);

  const conf = [
    '# TLS: the server certificate; client certificates are asked for and checked against mailca\'s CA and CRLs',
    '# (read at start and at `doveadm reload`; ssl_require_crl = yes wants a CRL for every CA, and they are in this file).',
    'ssl = required',
    `ssl_cert = <${opts.tls.certFile}`,
    `ssl_key = <${opts.tls.keyFile}`,
    `ssl_ca = <${opts.paths.caCrl}`,
    'ssl_require_crl = yes',
    'ssl_verify_client_cert = yes',
    '# The login name of a CA-valid certificate is its subject serialNumber (unique per certificate).',
    'auth_ssl_username_from_cert = yes',
    'ssl_cert_username_field = serialNumber',
    '# Global in Dovecot 2.3: yes would refuse password logins of users in grace. Set it to yes (and drop passdbs 2',
    '# and 3) once every user is enforced.',
    'auth_ssl_require_client_cert = no',
    '# EXTERNAL: the "TLS certificate" setting of mail programs; PLAIN/LOGIN with any password work with a certificate too.',
    'auth_mechanisms = plain login external',
    '',
    'service imap-login {',
    '  inet_listener imaps {',
    ...(opts.listenAddress !== undefined ? [`    address = ${opts.listenAddress}`] : []),
    `    port = ${port}`,
    '    ssl = yes',
    '  }',
    '}',
    '',
    '# 1. A listed certificate logs in as its owner (user=<address> in the file) with no password. The file is',
    '#    re-read when it changes: a revoked certificate\'s line is gone at the next login, no reload.',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=${CERTIFICATE_LOGIN_KEY} ${opts.paths.allowlist}`,
    '}',
    '# 2. Enforced users: a password alone is refused.',
    'passdb {',
    '  driver = passwd-file',
    `  args = ${opts.paths.enforcement}`,
    '  deny = yes',
    '}',
    '# 3. Users in grace: their password (or put your own password passdb here: pam, sql, ldap).',
    'passdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${opts.passwordFile}`,
    '}',
    '',
  ].join('\n');

  const notes = [
    'Keep the files current on this host (the passwd-files need no reload; the CA/CRL file does):',
    `  mailca pull --url URL --token-file FILE --format dovecot --out ${opts.paths.allowlist} \\`,
    `    --enforcement-out ${opts.paths.enforcement} --ca-crl-out ${opts.paths.caCrl} --watch \\`,
    `    --then 'case " $MAILCA_PULL_CHANGED " in *" ${opts.paths.caCrl} "*) doveadm reload;; esac'`,
    'Dovecot reads ssl_ca (the CA bundle and CRLs) only at start and reload: revocation works through the',
    'passwd-file line disappearing; the reload keeps the CRLs fresh (with ssl_require_crl = yes an expired CRL',
    'makes every certificate invalid until the next reload).',
    'Your userdb looks users up by their address (user=<address>): e.g. userdb { driver = static ... } or passwd-file.',
    'The owner\'s address must pass auth_username_chars for password logins (add + or others your addresses use).',
    'Dovecot >= 2.4.2 can also pin the certificate itself: ssl_peer_certificate_fingerprint_hash = sha256 and the',
    'passdb field check_client_cert_fp=<lower-case SHA-256 hex of the certificate> (fingerprint_sha256_hex in',
    'mailca\'s JSON list); Dovecot 2.3 has neither, so the serialNumber login name binds the login to one certificate.',
  ].join('\n');
  return { mta: 'dovecot', dovecotConf: conf, notes };
}
