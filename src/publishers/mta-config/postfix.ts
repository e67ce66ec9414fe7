import { POLICIES } from './policies.ts';
import type { MtaConfigOptions, PostfixSasl, RenderedPostfixConfig } from './types.ts';
import { enrolMessage, listeningPort } from './validate.ts';

const DEFAULT_POSTFIX_SASL: PostfixSasl = { type: 'dovecot', path: 'private/auth' };

/** Refuses with a readable text; the trailing plain `reject` is what Postfix's relay-safety check looks for. */
function rejectWith(text: string): string {
  return `check_client_access static:{REJECT 5.7.1 ${text}}, reject`;
}

function relayRestrictions(opts: MtaConfigOptions): string {
  const { paths } = opts;
  const listedCertificate = `check_ccert_access { texthash:${paths.postfixAllowlist}, { search_order = cert_fingerprint } }`;
  const enforcedUsers = `check_sasl_access texthash:${paths.postfixEnforcement}`;
  switch (POLICIES[opts.policy].clientCertificates) {
    case 'none':
      return ['permit_sasl_authenticated', rejectWith('authentication required')].join(',\n    ');
    case 'optional':
      return [
        listedCertificate,
        enforcedUsers,
        'permit_sasl_authenticated',
        rejectWith('authentication or a client certificate required'),
      ].join(',\n    ');
    case 'mandatory':
      return [listedCertificate, rejectWith(enrolMessage(opts.portalUrl))].join(',\n    ');
  }
}

function serviceOverrides(opts: MtaConfigOptions, restrictionsParameter: string): string[] {
  const policy = POLICIES[opts.policy];
  const sasl = opts.postfixSasl ?? DEFAULT_POSTFIX_SASL;
  const wantsCertificate = policy.clientCertificates !== 'none';
  const overrides: string[] = [
    `syslog_name=postfix/mailca-p${opts.policy}`,
    `smtpd_tls_wrappermode=${policy.tls === 'tls-on-connect' ? 'yes' : 'no'}`,
    `smtpd_tls_security_level=${policy.tls === 'starttls-optional' ? 'may' : 'encrypt'}`,
    `smtpd_tls_cert_file=${opts.tls.certFile}`,
    `smtpd_tls_key_file=${opts.tls.keyFile}`,
    'smtpd_tls_fingerprint_digest=sha256',
  ];
  if (wantsCertificate) {
    overrides.push(`smtpd_tls_CAfile=${opts.paths.caBundle}`, 'smtpd_tls_ask_ccert=yes');
  }
  overrides.push(`smtpd_tls_req_ccert=${policy.clientCertificates === 'mandatory' ? 'yes' : 'no'}`);
  overrides.push(
    `smtpd_tls_auth_only=${policy.tls === 'starttls-optional' ? 'no' : 'yes'}`,
    'smtpd_sasl_auth_enable=yes',
    `smtpd_sasl_type=${sasl.type}`,
    `smtpd_sasl_path=${sasl.path}`,
    'smtpd_sasl_security_options=noanonymous',
    'smtpd_client_restrictions=',
    'smtpd_helo_restrictions=',
    'smtpd_sender_restrictions=',
    `smtpd_relay_restrictions=$${restrictionsParameter}`,
    'smtpd_recipient_restrictions=',
    'milter_macro_daemon_name=ORIGINATING',
  );
  return overrides;
}

function postfixNotes(opts: MtaConfigOptions): string {
  const policy = POLICIES[opts.policy];
  const lines = [
    `Policy ${opts.policy}: ${policy.title}.`,
    `Without a certificate: ${policy.withoutCertificate}`,
    'Add the main.cf lines to /etc/postfix/main.cf and the service entry to /etc/postfix/master.cf (replace an existing',
    'entry on the same port), then run `postfix check` and `postfix reload`.',
    'The parameters are prefixed mailca_pN_, so entries of two policies (e.g. 2 on 465 and 7 on 587) can live side by side.',
    'The service runs without chroot (5th column n), so the published files and SASL socket paths are used as given.',
  ];
  if (policy.clientCertificates !== 'none') {
    lines.push(
      `The maps are texthash: (no postmap needed) and are read only when smtpd starts: run \`postfix reload\` after each`,
      `pull of ${opts.paths.postfixAllowlist} and ${opts.paths.postfixEnforcement}; the next connection sees the change.`,
      'The allow-list holds SHA-256 certificate fingerprints (smtpd_tls_fingerprint_digest=sha256 is set on the service;',
      "Debian's default is md5) and the lookup is pinned to search_order=cert_fingerprint, so a reused key does not",
      'keep a removed certificate working.',
      'Postfix has no CRL or OCSP support for client certificates: revocation = removal from the allow-list, and with',
      'optional certificates a listed certificate is accepted even if it is expired or does not chain to the CA, so keep',
      `the pull frequent. ${opts.paths.crlPem} is not used by Postfix.`,
    );
  }
  if (policy.clientCertificates === 'mandatory') {
    lines.push(
      'Mandatory certificates (smtpd_tls_req_ccert=yes) also make Postfix verify the chain against smtpd_tls_CAfile: no or an',
      'untrusted certificate gets "421 4.7.1", a trusted but unlisted one "554 5.7.1". AUTH stays offered so clients that',
      'also send a password keep working, but a password alone never permits mail. Client certificates need EKU clientAuth.',
    );
  }
  if (policy.clientCertificates === 'optional') {
    lines.push(
      'A listed certificate permits mail without a password; otherwise SASL password authentication is needed, except for',
      `logins listed in ${opts.paths.postfixEnforcement} (enforced users), who are refused with the enrolment link.`,
    );
  }
  lines.push(
    `SASL: smtpd_sasl_type=${(opts.postfixSasl ?? DEFAULT_POSTFIX_SASL).type}, smtpd_sasl_path=${(opts.postfixSasl ?? DEFAULT_POSTFIX_SASL).path}`,
    '(Dovecot: a `unix_listener /var/spool/postfix/private/auth` in its auth service, mode 0660, user postfix).',
  );
  if (policy.tls === 'starttls-optional') {
    lines.push('Optional STARTTLS offers AUTH before STARTTLS: passwords may be sent in clear. Prefer policies 6-8.');
  }
  if (policy.tls !== 'tls-on-connect') {
    lines.push(
      `The service listens on the submission port ${listeningPort(opts, false)}. Do not put these overrides on port 25 if it also`,
      'receives mail from other servers (MX): they would then have to authenticate.',
    );
  }
  return lines.join('\n') + '\n';
}

export function renderPostfixConfig(opts: MtaConfigOptions): RenderedPostfixConfig {
  const policy = POLICIES[opts.policy];
  const restrictionsParameter = `mailca_p${opts.policy}_relay_restrictions`;
  const mainCf = [
    `# mailca submission policy ${opts.policy}: ${policy.title}`,
    `${restrictionsParameter} =`,
    `    ${relayRestrictions(opts)}`,
    '',
  ].join('\n');

  const port = listeningPort(opts, policy.tls === 'tls-on-connect');
  const endpoint = opts.listenAddress === undefined ? `${port}` : `${opts.listenAddress.includes(':') ? `[${opts.listenAddress}]` : opts.listenAddress}:${port}`;
  const masterCf = [
    `# mailca submission policy ${opts.policy}: ${policy.title}`,
    `${endpoint} inet n - n - - smtpd`,
    ...serviceOverrides(opts, restrictionsParameter).map((override) => `  -o ${override}`),
    '',
  ].join('\n');

  return { mta: 'postfix', mainCf, masterCf, notes: postfixNotes(opts) };
}
