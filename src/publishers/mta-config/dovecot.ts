import type { MtaConfigGenerator, MtaConfigOptions, RenderedDovecotConfig } from './types.ts';
import { assertSafe } from './validate.ts';

/** The site's passwd-file for users in grace, when none is given. */
export const DEFAULT_DOVECOT_PASSWORDS = '/etc/dovecot/users';

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

/**
 * Ready-to-paste Dovecot 2.3 configuration for IMAP logins with mailca certificates (no submission policy). Pure: no
 * I/O. The options were checked by `validateOptions`; Dovecot wants a few more characters kept out.
 */
export function renderDovecotConfig(opts: MtaConfigOptions): RenderedDovecotConfig {
  const paths = { allowlist: opts.paths.dovecotAllowlist, enforcement: opts.paths.dovecotEnforcement, caCrl: opts.paths.caCrl };
  const passwordFile = opts.dovecotPasswords ?? DEFAULT_DOVECOT_PASSWORDS;
  assertDovecotSafe('paths.dovecotAllowlist', paths.allowlist);
  assertDovecotSafe('paths.dovecotEnforcement', paths.enforcement);
  assertDovecotSafe('paths.caCrl', paths.caCrl);
  assertDovecotSafe('tls.certFile', opts.tls.certFile);
  assertDovecotSafe('tls.keyFile', opts.tls.keyFile);
  assertDovecotSafe('dovecotPasswords', passwordFile);
  if (opts.listenAddress !== undefined) assertDovecotSafe('listenAddress', opts.listenAddress);
  const port = opts.ports?.imaps ?? 993;

  const conf = [
    '# TLS: the server certificate; client certificates are asked for and checked against mailca\'s CA and CRLs',
    '# (read at start and at `doveadm reload`; ssl_require_crl = yes wants a CRL for every CA, and they are in this file).',
    'ssl = required',
    `ssl_cert = <${opts.tls.certFile}`,
    `ssl_key = <${opts.tls.keyFile}`,
    `ssl_ca = <${paths.caCrl}`,
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
    `  args = scheme=PLAIN username_format=${CERTIFICATE_LOGIN_KEY} ${paths.allowlist}`,
    '}',
    '# 2. Enforced users: a password alone is refused.',
    'passdb {',
    '  driver = passwd-file',
    `  args = ${paths.enforcement}`,
    '  deny = yes',
    '}',
    '# 3. Users in grace: their password (or put your own password passdb here: pam, sql, ldap).',
    'passdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${passwordFile}`,
    '}',
    '',
  ].join('\n');

  const notes = [
    'Keep the files current on this host (the passwd-files need no reload; the CA/CRL file does):',
    `  mailca pull --url URL --token-file FILE --format dovecot --out ${paths.allowlist} \\`,
    `    --enforcement-out ${paths.enforcement} --ca-crl-out ${paths.caCrl} --watch \\`,
    `    --then 'case " $MAILCA_PULL_CHANGED " in *" ${paths.caCrl} "*) doveadm reload;; esac'`,
    'Dovecot reads ssl_ca (the CA bundle and CRLs) only at start and reload: revocation works through the',
    'passwd-file line disappearing; the reload keeps the CRLs fresh (with ssl_require_crl = yes an expired CRL',
    'makes every certificate invalid until the next reload).',
    'Your userdb looks users up by their address (user=<address>): e.g. userdb { driver = static ... } or passwd-file.',
    'The owner\'s address must pass auth_username_chars for password logins (add + or others your addresses use).',
    'Dovecot >= 2.4.2 can also pin the certificate itself: ssl_peer_certificate_fingerprint_hash = sha256 and the',
    'passdb field check_client_cert_fp=<lower-case SHA-256 hex of the certificate> (fingerprint_sha256_hex in',
    'mailca\'s JSON list); Dovecot 2.3 has neither, so the serialNumber login name binds the login to one certificate.',
  ].join('\n');
  return {
    mta: 'dovecot',
    title: 'mailca: IMAP login with a client certificate (Dovecot 2.3), e.g. as conf.d/99-mailca.conf',
    dovecotConf: conf,
    parts: [{ text: conf }],
    notes,
  };
}

/** Dovecot's configuration generator (linked from the dovecot consumer format). */
export const dovecotMtaConfig: MtaConfigGenerator<RenderedDovecotConfig> = { policies: false, configures: 'IMAP logins', render: renderDovecotConfig };
