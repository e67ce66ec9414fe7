import { bindsPasswordSenders, POLICIES, policyTitle, SUBMISSION } from './policies.ts';
import type { MtaConfigGenerator, SubmissionConfigOptions, PostfixMaps, PostfixSasl, RenderedPostfixConfig } from './types.ts';
import { enrolMessage, listeningPort, policyServiceAddress, pullCommand } from './validate.ts';

const DEFAULT_POSTFIX_SASL: PostfixSasl = { type: 'dovecot', path: 'private/auth' };

/** Refuses with a readable text; the trailing plain `reject` is what Postfix's relay-safety check looks for. */
function rejectWith(text: string): string {
  return `check_client_access static:{REJECT 5.7.1 ${text}}, reject`;
}

/** The pull client's policy service, with this policy's context (mandatory or optional certificates). */
function policyServiceCheck(opts: SubmissionConfigOptions, context: 'mandatory' | 'optional'): string {
  return `check_policy_service { ${policyServiceAddress(opts)}, timeout=5s, policy_context=${context} }`;
}

function postfixMaps(opts: SubmissionConfigOptions): PostfixMaps {
  return opts.postfixMaps ?? 'policy-service';
}

/** smtpd_sender_login_maps for password users: the senders table (sender → login), from memory or from a cdb file. */
function senderLoginMaps(opts: SubmissionConfigOptions): string {
  switch (postfixMaps(opts)) {
    case 'policy-service':
      return `socketmap:${policyServiceAddress(opts)}:senders`;
    case 'cdb':
      return `cdb:${opts.paths.postfixSenders}`;
  }
}

function certificateChecks(opts: SubmissionConfigOptions, context: 'mandatory' | 'optional'): string[] {
  const { paths } = opts;
  switch (postfixMaps(opts)) {
    case 'policy-service':
      return [policyServiceCheck(opts, context)];
    case 'cdb': {
      const listed = `check_ccert_access { cdb:${paths.postfixAllowlist}, { search_order = cert_fingerprint } }`;
      return context === 'mandatory' ? [listed] : [listed, `check_sasl_access cdb:${paths.postfixEnforcement}`];
    }
  }
}

/** Password users may send only as the addresses the senders table gives their login; then a password permits mail. */
const PASSWORD_USERS = ['reject_authenticated_sender_login_mismatch', 'permit_sasl_authenticated'];

function relayRestrictions(opts: SubmissionConfigOptions): string {
  switch (POLICIES[opts.policy].clientCertificates) {
    case 'none':
      return [...PASSWORD_USERS, rejectWith('authentication required')].join(',\n    ');
    case 'optional':
      return [
        ...certificateChecks(opts, 'optional'),
        ...PASSWORD_USERS,
        rejectWith('authentication or a client certificate required'),
      ].join(',\n    ');
    case 'mandatory':
      return [...certificateChecks(opts, 'mandatory'), rejectWith(enrolMessage(opts.portalUrl))].join(',\n    ');
  }
}

function serviceOverrides(opts: SubmissionConfigOptions, restrictionsParameter: string, senderMapsParameter: string): string[] {
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
  );
  if (bindsPasswordSenders(opts.policy)) overrides.push(`smtpd_sender_login_maps=$${senderMapsParameter}`);
  overrides.push(
    `smtpd_relay_restrictions=$${restrictionsParameter}`,
    'smtpd_recipient_restrictions=',
    'milter_macro_daemon_name=ORIGINATING',
  );
  return overrides;
}

const RUN_PULL_FIRST = 'Run the pull once (and postmap) before starting Postfix: a missing .cdb file gives "451 4.3.5 Server configuration error".';

function certificateNotes(opts: SubmissionConfigOptions): string[] {
  const policy = POLICIES[opts.policy];
  const { paths } = opts;
  const dir = paths.jsonAllowlist.replace(/\/[^/]*$/, '') || '.';
  const common = [
    'smtpd_tls_fingerprint_digest=sha256 is set on the service (Debian\'s default is md5): certificates are matched on their',
    'SHA-256 certificate fingerprint, never on the public key, so a reused key does not keep a removed certificate working.',
    'Postfix has no CRL or OCSP support for client certificates: revocation = removal from the list, and with optional',
    'certificates a listed certificate is accepted even if it is expired or does not chain to the CA, so keep the pull',
    `running. ${paths.crlPem} is not used by Postfix.`,
  ];
  switch (postfixMaps(opts)) {
    case 'policy-service':
      return [
        `Certificates are decided by the policy service of the pull client (${policyServiceAddress(opts)}), which answers`,
        'from memory and swaps in each list as it lands: a revocation applies at the next RCPT, even in an open session,',
        'with no postfix reload. Run it next to Postfix (e.g. as a systemd service):',
        pullCommand('json', paths.jsonAllowlist),
        `    --senders-out ${paths.postfixSenders} --ca-out ${paths.caBundle} --watch --policy-listen ${policyServiceAddress(opts)}`,
        'It loads the files at start, so it keeps answering while mailca is unreachable. If it is down, Postfix answers',
        '"451 4.3.5 Server configuration problem" (default_action): mail is deferred, never let through.',
        'Decisions (at RCPT): a listed certificate may send as its owner and the owner\'s aliases (and the null sender) → OK;',
        'any other sender → "REJECT 5.7.1 <sender>: not allowed for this client certificate"; a SASL login of another user',
        `→ refused; an unlisted certificate → ${policy.clientCertificates === 'mandatory' ? 'refused with the enrolment link' : 'no decision (DUNNO), so a password still works for users in grace'}.`,
        ...(policy.clientCertificates === 'optional'
          ? [
              'A password login of an enforced user without a listed certificate is refused with the enrolment link; password',
              `users may send only as their own addresses (smtpd_sender_login_maps = ${senderLoginMaps(opts)}, the senders`,
              'table answered by the same service, with reject_authenticated_sender_login_mismatch).',
            ]
          : []),
        ...common,
        `(Files under ${dir}: the pull client writes them; Postfix reads none of them itself.)`,
      ];
    case 'cdb':
      return [
        'The maps are cdb: files rebuilt by postmap after each pull (package postfix-cdb); Postfix notices a replaced cdb',
        'file before the next connection, with no postfix reload:',
        pullCommand('postfix', paths.postfixAllowlist),
        `    --enforcement-out ${paths.postfixEnforcement} --senders-out ${paths.postfixSenders} --ca-out ${paths.caBundle} --watch \\`,
        `    --then 'postmap cdb:${paths.postfixAllowlist} && postmap cdb:${paths.postfixEnforcement} && postmap cdb:${paths.postfixSenders}'`,
        RUN_PULL_FIRST,
        'Without the policy service a listed certificate may send with any sender address (Postfix maps cannot bind a',
        'certificate to MAIL FROM); use the policy service (the default) for that.',
        ...(policy.clientCertificates === 'optional'
          ? [
              `Password logins listed in ${paths.postfixEnforcement} (enforced users) are refused with the enrolment link; password`,
              `users may send only as their own addresses (smtpd_sender_login_maps = cdb:${paths.postfixSenders}).`,
            ]
          : []),
        ...common,
      ];
  }
}

/** Policies without client certificates: where the senders table that binds password users comes from. */
function passwordSenderNotes(opts: SubmissionConfigOptions): string[] {
  const { paths } = opts;
  const binding = [
    'Password users may send only as their own addresses and aliases (and the null sender): smtpd_sender_login_maps =',
    `${senderLoginMaps(opts)} with reject_authenticated_sender_login_mismatch; any other sender gets Postfix's`,
    '"553 5.7.1 <sender>: Sender address rejected: not owned by user LOGIN".',
  ];
  switch (postfixMaps(opts)) {
    case 'policy-service':
      return [
        ...binding,
        `The senders table is answered from memory by the policy service of the pull client (${policyServiceAddress(opts)}), which`,
        'swaps in each table as it lands: a changed alias applies at the next RCPT, with no postfix reload. Run it next',
        'to Postfix (e.g. as a systemd service):',
        pullCommand('json', paths.jsonAllowlist),
        `    --senders-out ${paths.postfixSenders} --watch --policy-listen ${policyServiceAddress(opts)}`,
        'It loads the files at start, so it keeps answering while mailca is unreachable. If it is down, Postfix defers every',
        'sender but the null sender ("451 4.3.0 <sender>: Temporary lookup failure"). Certificates are neither asked for nor used.',
      ];
    case 'cdb':
      return [
        ...binding,
        'The map is a cdb: file rebuilt by postmap after each pull (package postfix-cdb); Postfix notices a replaced cdb',
        'file before the next connection, with no postfix reload:',
        pullCommand('postfix', paths.postfixAllowlist),
        `    --senders-out ${paths.postfixSenders} --watch --then 'postmap cdb:${paths.postfixSenders}'`,
        RUN_PULL_FIRST,
      ];
  }
}

function postfixNotes(opts: SubmissionConfigOptions): string {
  const policy = POLICIES[opts.policy];
  const lines = [
    `Policy ${opts.policy}: ${policy.title}.`,
    `Without a certificate: ${policy.withoutCertificate}`,
    'Add the main.cf lines to /etc/postfix/main.cf and the service entry to /etc/postfix/master.cf (replace an existing',
    'entry on the same port), then run `postfix check` and `postfix reload`.',
    'The parameters are prefixed mailca_pN_, so entries of two policies (e.g. 2 on 465 and 7 on 587) can live side by side.',
    'The service runs without chroot (5th column n), so the published files and SASL socket paths are used as given.',
  ];
  lines.push(...(policy.clientCertificates === 'none' ? passwordSenderNotes(opts) : certificateNotes(opts)));
  if (policy.clientCertificates !== 'none') {
    lines.push('Postfix offers no AUTH EXTERNAL: set MAILCA_SUBMISSION_AUTH=none, so the portal tells users "No authentication".');
  }
  if (policy.clientCertificates === 'mandatory') {
    lines.push(
      'Mandatory certificates (smtpd_tls_req_ccert=yes) also make Postfix verify the chain against smtpd_tls_CAfile: no or an',
      'untrusted certificate gets "421 4.7.1", a trusted but unlisted one "554 5.7.1" with the enrolment link. AUTH stays',
      'offered so clients that also send a password keep working, but a password alone never permits mail. Client',
      'certificates need EKU clientAuth.',
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

export function renderPostfixConfig(opts: SubmissionConfigOptions): RenderedPostfixConfig {
  const policy = POLICIES[opts.policy];
  const restrictionsParameter = `mailca_p${opts.policy}_relay_restrictions`;
  const senderMapsParameter = `mailca_p${opts.policy}_sender_login_maps`;
  const mainCf = [
    `# mailca submission policy ${opts.policy}: ${policy.title}`,
    `${restrictionsParameter} =`,
    `    ${relayRestrictions(opts)}`,
    ...(bindsPasswordSenders(opts.policy) ? [`${senderMapsParameter} = ${senderLoginMaps(opts)}`] : []),
    '',
  ].join('\n');

  const port = listeningPort(opts, policy.tls === 'tls-on-connect');
  const endpoint = opts.listenAddress === undefined ? `${port}` : `${opts.listenAddress.includes(':') ? `[${opts.listenAddress}]` : opts.listenAddress}:${port}`;
  const masterCf = [
    `# mailca submission policy ${opts.policy}: ${policy.title}`,
    `${endpoint} inet n - n - - smtpd`,
    ...serviceOverrides(opts, restrictionsParameter, senderMapsParameter).map((override) => `  -o ${override}`),
    '',
  ].join('\n');

  return {
    mta: 'postfix',
    title: policyTitle(opts.policy),
    mainCf,
    masterCf,
    parts: [
      { file: 'main.cf', text: mainCf },
      { file: 'master.cf', text: masterCf },
    ],
    notes: postfixNotes(opts),
  };
}

/** Postfix's configuration generator (linked from the postfix consumer format). */
export const postfixMtaConfig: MtaConfigGenerator<RenderedPostfixConfig> = { policies: true, configures: SUBMISSION, render: renderPostfixConfig };
