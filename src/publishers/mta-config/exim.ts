import { bindsPasswordSenders, POLICIES, policyTitle, SUBMISSION } from './policies.ts';
import type { EximSasl, MtaConfigGenerator, SubmissionConfigOptions, RenderedEximConfig } from './types.ts';
import { enrolMessage, listeningPort, policyServiceAddress, pullCommand } from './validate.ts';

const DEFAULT_EXIM_SASL: EximSasl = { driver: 'dovecot', socket: '/run/dovecot/auth-client' };

const VERIFIED = '{eq{$tls_in_certificate_verified}{1}}{def:tls_in_peercert}';

/**
 * The allow-list entry ("owner : alias : …") of the client's certificate if it is CA-verified and
 * listed, else empty. From the lsearch file (re-read at each lookup; a file replaced by a pull is
 * seen from the next connection on, since Exim keeps an open file for the rest of the message), or
 * asked of the pull client's policy service (a socketmap lookup in the `certificates` map, per
 * RCPT: an open session sees a revocation at its next RCPT). Unreachable service: empty (unlisted).
 */
function certificateEntry(opts: SubmissionConfigOptions): string {
  const lookup = opts.eximLookup ?? 'lsearch';
  switch (lookup) {
    case 'lsearch':
      return `\${if and{${VERIFIED}}{\${lookup{\${sha256:$tls_in_peercert}}lsearch,cache=no_rd{MAILCA_ALLOWLIST}}}{}}`;
    case 'policy-service':
      // The request is a netstring of fixed length: "certificates " + 64 hex digits = 77 bytes.
      return `\${if and{${VERIFIED}}{${socketmapLookup(opts, 'certificates', '${sha256:$tls_in_peercert}', 77)}}{}}`;
    default:
      return unknownLookup(lookup);
  }
}

/** `${readsocket}` of one socketmap lookup at the pull client's policy service: the value after "OK ", or empty. */
function socketmapLookup(opts: SubmissionConfigOptions, map: string, key: string, fixedLength?: number): string {
  const socket = policyServiceAddress(opts).replace(/^unix:/, '');
  const length = fixedLength === undefined ? `\${strlen:${map} ${key}}` : String(fixedLength);
  const ask = `\${readsocket{${socket}}{${length}:${map} ${key},}{3s}{}{FAIL}}`;
  return `\${if match{${ask}}{\\N^\\d+:OK (.+),\$\\N}{\$1}{}}`;
}

/**
 * Password users (a login other than EXTERNAL) may send only as the addresses mailca gives their login, and the null
 * sender: the lsearch map `login: owner : alias` (re-read per lookup), or, with the policy-service lookup, the senders
 * table (sender → logins) the pull client answers from memory, as Postfix's smtpd_sender_login_maps does.
 */
function passwordSenderBinding(opts: SubmissionConfigOptions): string[] {
  const head = [
    '  # password users may send only as their own addresses and aliases (and the null sender)',
    '  deny    message = 5.7.1 <$sender_address>: not owned by user $authenticated_id',
    `          authenticated = ${passwordAuthenticators(opts)}`,
  ];
  const lookup = opts.eximLookup ?? 'lsearch';
  switch (lookup) {
    case 'lsearch':
      return [...head, '          !senders = : ${lookup{$authenticated_id}lsearch,cache=no_rd{MAILCA_SENDERS}}'];
    case 'policy-service':
      return [
        ...head,
        '          !senders = :',
        `          condition = \${if forany{<, ${socketmapLookup(opts, 'senders', '$sender_address')}}{eqi{$item}{$authenticated_id}}{no}{yes}}`,
      ];
    default:
      return unknownLookup(lookup);
  }
}

/** The authenticators that check a password: all of them, except EXTERNAL where the policy offers it (certificates). */
function passwordAuthenticators(opts: SubmissionConfigOptions): string {
  return POLICIES[opts.policy].clientCertificates === 'none' ? '*' : '!mailca_external : *';
}

function unknownLookup(lookup: never): never {
  throw new Error(`mta-config: unknown Exim lookup ${String(lookup)}`);
}

/**
 * AUTH EXTERNAL (Thunderbird's and K-9's "TLS certificate" setting): offered once a CA-verified certificate was
 * presented, succeeds when it is listed; the authenticated id is the certificate's owner.
 */
function externalAuthenticator(opts: SubmissionConfigOptions): string[] {
  return [
    'mailca_external:',
    '  driver = external',
    '  public_name = EXTERNAL',
    '  server_advertise_condition = ${if and{{eq{$tls_in_certificate_verified}{1}}{def:tls_in_peercert}}}',
    `  server_param2 = \${listextract{1}{${certificateEntry(opts)}}}`,
    '  # an authorisation identity, if the client sends one, must be the owner',
    '  server_condition = ${if and{{!eq{$auth2}{}}{or{{eq{$auth1}{}}{eqi{$auth1}{$auth2}}}}}}',
    '  server_set_id = $auth2',
    '',
  ];
}

function mainSection(opts: SubmissionConfigOptions): string[] {
  const policy = POLICIES[opts.policy];
  const tlsOnConnect = policy.tls === 'tls-on-connect';
  const port = listeningPort(opts, tlsOnConnect);
  const lines = [
    `# mailca submission policy ${opts.policy}: ${policy.title}`,
    `MAILCA_ALLOWLIST = ${opts.paths.eximAllowlist}`,
    `MAILCA_ENFORCEMENT = ${opts.paths.eximEnforcement}`,
    `MAILCA_SENDERS = ${opts.paths.eximSenders}`,
    '',
    `primary_hostname = ${opts.hostname}`,
    'domainlist local_domains = @',
    'keep_environment =',
    'never_users = root',
  ];
  if (opts.listenAddress !== undefined) lines.push(`local_interfaces = <; ${opts.listenAddress}`);
  lines.push(`daemon_smtp_ports = ${port}`);
  if (tlsOnConnect) lines.push(`tls_on_connect_ports = ${port}`);
  lines.push(
    'tls_advertise_hosts = *',
    `tls_certificate = ${opts.tls.certFile}`,
    `tls_privatekey = ${opts.tls.keyFile}`,
  );
  if (policy.clientCertificates !== 'none') {
    lines.push(`tls_verify_certificates = ${opts.paths.caBundle}`, `tls_crl = ${opts.paths.crlPem}`);
    lines.push(policy.clientCertificates === 'mandatory' ? 'tls_verify_hosts = *' : 'tls_try_verify_hosts = *');
  }
  lines.push(
    policy.tls === 'starttls-optional' ? 'auth_advertise_hosts = *' : 'auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}',
    'acl_smtp_mail = mailca_acl_mail',
    'acl_smtp_rcpt = mailca_acl_rcpt',
  );
  return lines;
}

function aclSection(opts: SubmissionConfigOptions): string[] {
  const policy = POLICIES[opts.policy];
  const lines = ['begin acl', '', 'mailca_acl_mail:'];
  if (policy.tls === 'starttls-mandatory') {
    lines.push('  deny    message = 5.7.0 STARTTLS required', '          condition = ${if eq{$tls_in_cipher}{}}');
  }
  lines.push('  accept', '', 'mailca_acl_rcpt:');
  if (policy.clientCertificates !== 'none') {
    lines.push(
      '  # the allow-list entry of a CA-verified (unexpired, unrevoked per tls_crl) certificate: "owner : alias : …";',
      opts.eximLookup === 'policy-service'
        ? '  # asked of the pull client per RCPT, so a removal applies at the next RCPT of an open session'
        : '  # cache=no_rd re-reads the file at each lookup; a file replaced by a pull is seen from the next connection',
      `  warn    set acl_m_mailca_senders = ${certificateEntry(opts)}`,
      '  deny    message = 5.7.1 <$authenticated_id>: SASL login does not match the client certificate of ${listextract{1}{$acl_m_mailca_senders}}',
      '          condition = ${if !eq{$acl_m_mailca_senders}{}}',
      '          authenticated = *',
      '          condition = ${if eqi{$authenticated_id}{${listextract{1}{$acl_m_mailca_senders}}}{no}{yes}}',
      '  # its owner and aliases may send (and the null sender: bounces, receipts)',
      '  accept  condition = ${if !eq{$acl_m_mailca_senders}{}}',
      '          senders = : $acl_m_mailca_senders',
      '          control = submission',
      '  deny    message = 5.7.1 <$sender_address>: not allowed for this client certificate',
      '          condition = ${if !eq{$acl_m_mailca_senders}{}}',
    );
  }
  if (policy.clientCertificates === 'optional') {
    lines.push(
      '  # enforced users may no longer submit with a password alone',
      `  deny    message = 5.7.1 ${enrolMessage(opts.portalUrl)}`,
      '          authenticated = *',
      '          condition = ${if eq{${lookup{$authenticated_id}lsearch,cache=no_rd{MAILCA_ENFORCEMENT}{$value}}}{enforced}}',
    );
  }
  if (bindsPasswordSenders(opts.policy)) lines.push(...passwordSenderBinding(opts));
  if (policy.clientCertificates === 'mandatory') {
    lines.push(`  deny    message = 5.7.1 ${enrolMessage(opts.portalUrl)}`);
  } else {
    lines.push(
      // EXTERNAL authenticated the certificate at AUTH time; it counts only while the certificate is listed (above).
      `  accept  authenticated = ${passwordAuthenticators(opts)}`,
      '          control = submission',
      `  deny    message = 5.7.1 authentication${policy.clientCertificates === 'optional' ? ' or a client certificate' : ''} required`,
    );
  }
  return lines;
}

function authenticatorSection(opts: SubmissionConfigOptions): string[] {
  const sasl = opts.eximSasl ?? DEFAULT_EXIM_SASL;
  const lines = ['begin authenticators', ''];
  if (POLICIES[opts.policy].clientCertificates !== 'none') lines.push(...externalAuthenticator(opts));
  if (sasl.driver === 'dovecot') {
    for (const mechanism of ['PLAIN', 'LOGIN']) {
      lines.push(
        `mailca_dovecot_${mechanism.toLowerCase()}:`,
        '  driver = dovecot',
        `  public_name = ${mechanism}`,
        `  server_socket = ${sasl.socket}`,
        '  server_set_id = $auth1',
        '',
      );
    }
    return lines;
  }
  const passwordOf = (login: string): string => `\${lookup{${login}}lsearch{${sasl.passwordFile}}{$value}{*}}`;
  lines.push(
    'mailca_plain:',
    '  driver = plaintext',
    '  public_name = PLAIN',
    '  server_prompts = :',
    `  server_condition = \${if crypteq{$auth3}{${passwordOf('$auth2')}}}`,
    '  server_set_id = $auth2',
    '',
    'mailca_login:',
    '  driver = plaintext',
    '  public_name = LOGIN',
    '  server_prompts = <| Username: | Password:',
    `  server_condition = \${if crypteq{$auth2}{${passwordOf('$auth1')}}}`,
    '  server_set_id = $auth1',
    '',
  );
  return lines;
}

/** Routing for a submission-only smarthost; merge with the site's own routers if Exim also delivers locally. */
function routingSections(): string[] {
  return [
    'begin routers',
    '',
    'mailca_dnslookup:',
    '  driver = dnslookup',
    '  domains = ! +local_domains',
    '  transport = mailca_remote_smtp',
    '  ignore_target_hosts = 0.0.0.0 : 127.0.0.0/8',
    '  no_more',
    '',
    'begin transports',
    '',
    'mailca_remote_smtp:',
    '  driver = smtp',
    '',
    'begin retry',
    '',
    '*   *   F,2h,15m; G,16h,1h,1.5; F,4d,6h',
    '',
  ];
}

/** Where the senders that bind password users come from, and the pull that keeps them. */
function passwordSenderNotes(opts: SubmissionConfigOptions): string[] {
  const { paths } = opts;
  const withCertificates = POLICIES[opts.policy].clientCertificates !== 'none';
  const lookup = opts.eximLookup ?? 'lsearch';
  switch (lookup) {
    case 'lsearch':
      return [
        `Password users may send only as their own addresses and aliases (${paths.eximSenders}: "login: owner : alias";`,
        `anything else gets "not owned by user LOGIN"). Keep the file${withCertificates ? 's' : ''} with the pull client:`,
        pullCommand('exim', paths.eximAllowlist),
        ...(withCertificates
          ? [
              `    --enforcement-out ${paths.eximEnforcement} --senders-out ${paths.eximSenders} --ca-out ${paths.caBundle} \\`,
              `    --crl-out ${paths.crlPem} --watch --then 'kill -HUP $(cat /run/exim4/exim.pid)'`,
            ]
          : [
              `    --senders-out ${paths.eximSenders} --watch`,
              `Exim re-reads ${paths.eximSenders} at each lookup (lsearch,cache=no_rd): no reload is needed after a pull.`,
            ]),
      ];
    case 'policy-service':
      return withCertificates
        ? [
            'Password users may send only as their own addresses and aliases: Exim asks the same service\'s senders table',
            `(run the pull client with --senders-out ${paths.postfixSenders}); anything else gets "not owned by user LOGIN".`,
          ]
        : [
            'Password users may send only as their own addresses and aliases (and the null sender): Exim asks the senders table',
            `of the pull client's policy service (${policyServiceAddress(opts)}) at each RCPT; anything else gets "not owned by`,
            'user LOGIN". Run it next to Exim (e.g. as a systemd service):',
            pullCommand('json', paths.jsonAllowlist),
            `    --senders-out ${paths.postfixSenders} --watch --policy-listen ${policyServiceAddress(opts)}`,
            'If the service is unreachable, every sender but the null sender is refused ("not owned by user LOGIN"). Certificates',
            'are neither asked for nor used.',
          ];
    default:
      return unknownLookup(lookup);
  }
}

function eximNotes(opts: SubmissionConfigOptions): string {
  const policy = POLICIES[opts.policy];
  const lines = [
    `Policy ${opts.policy}: ${policy.title}.`,
    `Without a certificate: ${policy.withoutCertificate}`,
    'This is a complete configuration for a submission-only Exim (run with `exim -C FILE -bd`); to merge it into an',
    'existing one, copy the main options, the two ACLs (and point acl_smtp_mail/acl_smtp_rcpt at them) and the',
    'authenticators; keep your own routers and transports.',
  ];
  if (policy.clientCertificates !== 'none') {
    lines.push(
      ...(opts.eximLookup === 'policy-service'
        ? [
            `Exim asks the pull client's policy service (${opts.policyService ?? 'inet:127.0.0.1:10040'}; run mailca pull --format json --watch`,
            '--policy-listen there) for the certificate\'s entry at each RCPT: a removed certificate is refused at the next RCPT of an',
            'open session, with no reload. If the service is unreachable the certificate counts as unlisted.',
          ]
        : [
            `Exim re-reads the lsearch files ${opts.paths.eximAllowlist} and ${opts.paths.eximEnforcement} at each lookup`,
            '(lsearch,cache=no_rd): no reload is needed after a pull, and a removed certificate is refused from the next',
            'connection on (Exim keeps the file it opened for the rest of a message). --exim-lookup policy-service applies a',
            'removal at the next RCPT of an open session.',
          ]),
      'A listed certificate may send as the addresses of its entry ("HEX: owner : alias : …") and the null',
      'sender; any other sender is refused ("not allowed for this client certificate"), and so is a password login of',
      'another user. AUTH EXTERNAL is offered once a CA-verified certificate is presented (mail programs\' "TLS',
      'certificate" setting); it succeeds for a listed certificate and sets $authenticated_id to its owner. Programs set',
      'to "No authentication" need no AUTH: the certificate alone permits mail. Set MAILCA_SUBMISSION_AUTH=external, so the',
      'portal tells users "TLS certificate".',
      `The CA bundle and the CRL (${opts.paths.crlPem}) are read when the daemon starts: after each CRL update send the daemon`,
      'SIGHUP (`kill -HUP $(cat /run/exim4/exim.pid)`). A certificate is accepted only if it chains to the CA, is unexpired,',
      'unrevoked and its SHA-256 fingerprint (upper-case hex, no colons) is on the allow-list.',
    );
  }
  if (policy.clientCertificates === 'optional') {
    lines.push(
      'A listed certificate permits mail without a password; otherwise password authentication is needed, except for logins',
      `with the value "enforced" in ${opts.paths.eximEnforcement}, who are refused with the enrolment link.`,
    );
  }
  if (bindsPasswordSenders(opts.policy)) lines.push(...passwordSenderNotes(opts));
  if (policy.clientCertificates === 'mandatory') {
    lines.push(
      'tls_verify_hosts = * makes the TLS handshake fail without a CA-verified certificate; a verified but unlisted one is',
      'refused at RCPT. AUTH stays offered, but a password alone never permits mail.',
    );
  }
  if (policy.tls === 'starttls-optional') {
    lines.push('Optional STARTTLS offers AUTH before STARTTLS: passwords may be sent in clear. Prefer policies 6-8.');
  }
  if (policy.tls !== 'tls-on-connect') {
    lines.push(
      `The daemon listens on the submission port ${listeningPort(opts, false)} only; do not apply these ACLs to port 25 if it`,
      'also receives mail from other servers (MX).',
    );
  }
  lines.push('exim_path, spool_directory and log_file_path are left to the Exim build defaults; set them if you run Exim unpacked.');
  return lines.join('\n') + '\n';
}

export function renderEximConfig(opts: SubmissionConfigOptions): RenderedEximConfig {
  const eximConf = [
    ...mainSection(opts),
    '',
    ...aclSection(opts),
    '',
    ...authenticatorSection(opts),
    ...routingSections(),
  ].join('\n');
  return { mta: 'exim', title: policyTitle(opts.policy), eximConf, parts: [{ text: eximConf }], notes: eximNotes(opts) };
}

/** Exim's configuration generator (linked from the exim consumer format). */
export const eximMtaConfig: MtaConfigGenerator<RenderedEximConfig> = { policies: true, configures: SUBMISSION, render: renderEximConfig };
