import { describe, expect, it } from 'vitest';
import { CERTIFICATE_LOGIN_KEY, POLICIES, POLICY_NUMBERS, renderMtaConfig, type MtaConfigOptions, type PublishedPaths } from '../../src/publishers/mta-config/index.ts';

const paths: PublishedPaths = {
  jsonAllowlist: '/var/lib/mailca/allowlist.json',
  postfixSenders: '/var/lib/mailca/senders.postfix',
  eximSenders: '/var/lib/mailca/senders.exim',
  postfixAllowlist: '/var/lib/mailca/postfix-allowlist',
  eximAllowlist: '/var/lib/mailca/exim-allowlist',
  caBundle: '/var/lib/mailca/ca.pem',
  crlPem: '/var/lib/mailca/crl.pem',
  postfixEnforcement: '/var/lib/mailca/postfix-enforcement',
  eximEnforcement: '/var/lib/mailca/exim-enforcement',
  dovecotAllowlist: '/srv/mailca/allowlist.dovecot',
  dovecotEnforcement: '/srv/mailca/enforcement.dovecot',
  caCrl: '/srv/mailca/ca-crl.pem',
};

const base: Omit<MtaConfigOptions, 'mta' | 'policy'> = {
  paths,
  hostname: 'mail.example.test',
  portalUrl: 'https://portal.example/',
  tls: { certFile: '/etc/ssl/mail.pem', keyFile: '/etc/ssl/mail.key' },
};

describe('renderMtaConfig (pure)', () => {
  it('POLICIES describes all eight policies in one sentence each', () => {
    expect(Object.keys(POLICIES)).toHaveLength(8);
    for (const policy of POLICY_NUMBERS) {
      expect(POLICIES[policy].title.length).toBeGreaterThan(10);
      expect(POLICIES[policy].withoutCertificate).toMatch(/^[A-Z][^\n]*\.$/);
    }
  });

  it('postfix: ports default to 465/587 on all addresses; the allow-list lookup is pinned to the certificate fingerprint', () => {
    const p3 = renderMtaConfig({ ...base, mta: 'postfix', policy: 3 });
    expect(p3.masterCf).toMatch(/^465 inet n - n - - smtpd$/m);
    expect(p3.masterCf).toContain('-o smtpd_tls_wrappermode=yes');
    expect(p3.masterCf).toContain('-o smtpd_tls_req_ccert=yes');
    expect(p3.masterCf).toContain('-o smtpd_tls_fingerprint_digest=sha256');
    expect(p3.mainCf).toContain('check_policy_service { inet:127.0.0.1:10040, timeout=5s, policy_context=mandatory }');
    expect(p3.mainCf).not.toContain('texthash');
    expect(p3.notes).toContain('--policy-listen inet:127.0.0.1:10040');
    const cdb = renderMtaConfig({ ...base, mta: 'postfix', policy: 3, postfixMaps: 'cdb' });
    expect(cdb.mainCf).toContain(`check_ccert_access { cdb:${paths.postfixAllowlist}, { search_order = cert_fingerprint } }`);
    expect(cdb.notes).toContain(`postmap cdb:${paths.postfixAllowlist}`);
    const p7 = renderMtaConfig({ ...base, mta: 'postfix', policy: 7, ports: { submission: 2587 }, listenAddress: '192.0.2.1' });
    expect(p7.masterCf).toMatch(/^192\.0\.2\.1:2587 inet/m);
    expect(p7.masterCf).toContain('-o smtpd_tls_auth_only=yes');
    expect(p7.mainCf).toContain('policy_context=optional');
    expect(p7.mainCf).toContain('reject_authenticated_sender_login_mismatch');
    expect(p7.mainCf).not.toContain('reject_sender_login_mismatch');
    expect(p7.mainCf).toContain('mailca_p7_sender_login_maps = socketmap:inet:127.0.0.1:10040:senders');
    expect(p7.masterCf).toContain('-o smtpd_sender_login_maps=$mailca_p7_sender_login_maps');
    const p7cdb = renderMtaConfig({ ...base, mta: 'postfix', policy: 7, postfixMaps: 'cdb', policyService: 'unix:/run/mailca/policy' });
    expect(p7cdb.mainCf).toContain(`check_sasl_access cdb:${paths.postfixEnforcement}`);
    expect(p7cdb.mainCf).toContain(`mailca_p7_sender_login_maps = cdb:${paths.postfixSenders}`);
    expect(renderMtaConfig({ ...base, mta: 'postfix', policy: 7, policyService: 'unix:/run/mailca/policy' }).mainCf).toContain('check_policy_service { unix:/run/mailca/policy,');
  });

  it('postfix: no certificate lookups in policies without client certificates', () => {
    for (const policy of [1, 4, 6] as const) {
      const rendered = renderMtaConfig({ ...base, mta: 'postfix', policy });
      expect(rendered.mainCf).not.toContain('check_ccert_access');
      expect(rendered.mainCf).not.toContain('check_policy_service');
      expect(rendered.mainCf).not.toContain('check_sasl_access');
      expect(rendered.masterCf).not.toContain('smtpd_tls_ask_ccert');
      expect(rendered.masterCf).not.toContain('smtpd_tls_CAfile');
    }
  });

  it.each([1, 4, 6] as const)('postfix policy %i: password users are bound to their senders like on 2, 5 and 7 (policy service, or cdb)', (policy) => {
    const rendered = renderMtaConfig({ ...base, mta: 'postfix', policy });
    expect(rendered.mainCf).toContain(
      [
        `mailca_p${policy}_relay_restrictions =`,
        '    reject_authenticated_sender_login_mismatch,',
        '    permit_sasl_authenticated,',
        '    check_client_access static:{REJECT 5.7.1 authentication required}, reject',
        `mailca_p${policy}_sender_login_maps = socketmap:inet:127.0.0.1:10040:senders`,
      ].join('\n'),
    );
    expect(rendered.mainCf).not.toContain('reject_sender_login_mismatch');
    expect(rendered.masterCf).toContain(`-o smtpd_sender_login_maps=$mailca_p${policy}_sender_login_maps`);
    // The same map as the optional-certificate policy of the same TLS mode.
    const optional = renderMtaConfig({ ...base, mta: 'postfix', policy: (policy + 1) as 2 | 5 | 7 });
    expect(optional.mainCf).toContain(`mailca_p${policy + 1}_sender_login_maps = socketmap:inet:127.0.0.1:10040:senders`);
    expect(rendered.notes).toContain('reject_authenticated_sender_login_mismatch');
    expect(rendered.notes).toContain(`--format json --out ${paths.jsonAllowlist} \\\n    --senders-out ${paths.postfixSenders} --watch --policy-listen inet:127.0.0.1:10040`);
    expect(rendered.notes).toContain('not owned by user LOGIN');

    const unix = renderMtaConfig({ ...base, mta: 'postfix', policy, policyService: 'unix:/run/mailca/policy' });
    expect(unix.mainCf).toContain(`mailca_p${policy}_sender_login_maps = socketmap:unix:/run/mailca/policy:senders`);
    expect(unix.notes).toContain('--policy-listen unix:/run/mailca/policy');

    const cdb = renderMtaConfig({ ...base, mta: 'postfix', policy, postfixMaps: 'cdb' });
    expect(cdb.mainCf).toContain(`mailca_p${policy}_sender_login_maps = cdb:${paths.postfixSenders}`);
    expect(cdb.mainCf).toContain('reject_authenticated_sender_login_mismatch');
    expect(cdb.mainCf).not.toContain('check_sasl_access');
    expect(cdb.masterCf).toContain(`-o smtpd_sender_login_maps=$mailca_p${policy}_sender_login_maps`);
    expect(cdb.notes).toContain(`--format postfix --out ${paths.postfixAllowlist} \\\n    --senders-out ${paths.postfixSenders} --watch --then 'postmap cdb:${paths.postfixSenders}'`);
  });

  it.each([3, 8] as const)('postfix policy %i (mandatory certificates): no senders map, a password alone never sends', (policy) => {
    const rendered = renderMtaConfig({ ...base, mta: 'postfix', policy });
    expect(rendered.mainCf).not.toContain('sender_login');
    expect(rendered.masterCf).not.toContain('smtpd_sender_login_maps');
    expect(rendered.mainCf).not.toContain('permit_sasl_authenticated');
  });

  it.each([1, 4, 6] as const)('exim policy %i: password users send only as their own addresses and aliases (senders.exim, or the policy service)', (policy) => {
    const rendered = renderMtaConfig({ ...base, mta: 'exim', policy });
    expect(rendered.eximConf).toContain(
      [
        'mailca_acl_rcpt:',
        '  # password users may send only as their own addresses and aliases (and the null sender)',
        '  deny    message = 5.7.1 <$sender_address>: not owned by user $authenticated_id',
        '          authenticated = *',
        '          !senders = : ${lookup{$authenticated_id}lsearch,cache=no_rd{MAILCA_SENDERS}}',
        '  accept  authenticated = *',
        '          control = submission',
        '  deny    message = 5.7.1 authentication required',
      ].join('\n'),
    );
    expect(rendered.eximConf).toContain(`MAILCA_SENDERS = ${paths.eximSenders}`);
    // Certificates are neither asked for nor used, and the enforcement map does not apply.
    expect(rendered.eximConf).not.toContain('MAILCA_ENFORCEMENT}');
    expect(rendered.eximConf).not.toContain('MAILCA_ALLOWLIST}');
    expect(rendered.eximConf).not.toContain('mailca_external');
    expect(rendered.notes).toContain(`--format exim --out ${paths.eximAllowlist} \\\n    --senders-out ${paths.eximSenders} --watch\n`);
    expect(rendered.notes).toContain('"not owned by user LOGIN"');

    const service = renderMtaConfig({ ...base, mta: 'exim', policy, eximLookup: 'policy-service' });
    expect(service.eximConf).toContain(
      [
        '          authenticated = *',
        '          !senders = :',
        '          condition = ${if forany{<, ${if match{${readsocket{inet:127.0.0.1:10040}{${strlen:senders $sender_address}:senders $sender_address,}{3s}{}{FAIL}}}{\\N^\\d+:OK (.+),$\\N}{$1}{}}}{eqi{$item}{$authenticated_id}}{no}{yes}}',
      ].join('\n'),
    );
    expect(service.eximConf).not.toContain('MAILCA_SENDERS}');
    expect(service.notes).toContain(`--format json --out ${paths.jsonAllowlist} \\\n    --senders-out ${paths.postfixSenders} --watch --policy-listen inet:127.0.0.1:10040`);
  });

  it('exim: the password binding of 1, 4 and 6 is that of 2, 5 and 7, without the EXTERNAL exception', () => {
    const binding = (text: string) => text.slice(text.indexOf('  # password users may send only'), text.indexOf('  accept  authenticated ='));
    for (const eximLookup of ['lsearch', 'policy-service'] as const) {
      for (const [none, optional] of [[1, 2], [4, 5], [6, 7]] as const) {
        const withoutCertificates = binding(renderMtaConfig({ ...base, mta: 'exim', policy: none, eximLookup }).eximConf);
        const withCertificates = binding(renderMtaConfig({ ...base, mta: 'exim', policy: optional, eximLookup }).eximConf);
        expect(withoutCertificates.length).toBeGreaterThan(100);
        expect(withoutCertificates).toBe(withCertificates.replace('authenticated = !mailca_external : *', 'authenticated = *'));
      }
    }
  });

  it('exim: verifies against the CA and CRL and looks the SHA-256 up in the allow-list', () => {
    const p5 = renderMtaConfig({ ...base, mta: 'exim', policy: 5 });
    expect(p5.eximConf).toContain(`tls_verify_certificates = ${paths.caBundle}`);
    expect(p5.eximConf).toContain(`tls_crl = ${paths.crlPem}`);
    expect(p5.eximConf).toContain('tls_try_verify_hosts = *');
    expect(p5.eximConf).toContain('${lookup{${sha256:$tls_in_peercert}}lsearch,cache=no_rd{MAILCA_ALLOWLIST}}');
    expect(p5.eximConf).toContain('senders = : $acl_m_mailca_senders');
    expect(p5.eximConf).toContain('message = 5.7.1 <$sender_address>: not allowed for this client certificate');
    expect(p5.eximConf).toMatch(/^mailca_external:\n  driver = external\n  public_name = EXTERNAL$/m);
    expect(p5.eximConf).toContain('client certificate required - enrol at https://portal.example/');
    expect(p5.eximConf).toMatch(/^daemon_smtp_ports = 587$/m);
    expect(p5.notes).toContain('SIGHUP');
    const p8 = renderMtaConfig({ ...base, mta: 'exim', policy: 8 });
    expect(p8.eximConf).toContain('tls_verify_hosts = *');
    expect(p8.eximConf).toContain('auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}');
    const p1 = renderMtaConfig({ ...base, mta: 'exim', policy: 1 });
    expect(p1.eximConf).toMatch(/^tls_on_connect_ports = 465$/m);
    expect(p1.eximConf).not.toContain('tls_verify_certificates');
    expect(p1.eximConf).not.toContain('EXTERNAL');
  });

  it('refuses values that would break the generated syntax', () => {
    expect(() => renderMtaConfig({ ...base, mta: 'postfix', policy: 2, paths: { ...paths, caBundle: '/a b/ca.pem' } })).toThrow(/caBundle/);
    expect(() => renderMtaConfig({ ...base, mta: 'exim', policy: 2, portalUrl: 'https://x/${run{sh}}' })).toThrow(/portalUrl/);
    expect(() => renderMtaConfig({ ...base, mta: 'exim', policy: 2, portalUrl: 'ftp://x/' })).toThrow(/portalUrl/);
    expect(() => renderMtaConfig({ ...base, mta: 'postfix', policy: 2, ports: { tlsOnConnect: 70000 } })).toThrow(/port/);
    expect(() => renderMtaConfig({ ...base, mta: 'postfix', policy: 2, policyService: '127.0.0.1:10040' })).toThrow(/policyService/);
  });
});

describe('renderMtaConfig: dovecot', () => {
  const dovecot = { ...base, mta: 'dovecot', dovecotPasswords: '/etc/dovecot/users' } as const;

  it('keys the certificate passdb on the certificate login name only, and lists the passdbs in order', () => {
    const rendered = renderMtaConfig(dovecot);
    const { dovecotConf } = rendered;
    expect(rendered.parts).toEqual([{ text: dovecotConf }]);
    expect(dovecotConf).toContain(`args = scheme=PLAIN username_format=${CERTIFICATE_LOGIN_KEY} /srv/mailca/allowlist.dovecot\n`);
    expect(CERTIFICATE_LOGIN_KEY).toBe('%{if;%{cert};eq;valid;%{if;%Lu;eq;%L{orig_user};;%Lu};}');
    const order = ['allowlist.dovecot', 'enforcement.dovecot\n  deny = yes', '/etc/dovecot/users'].map((s) => dovecotConf.indexOf(s));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    expect(dovecotConf).toContain('ssl_ca = </srv/mailca/ca-crl.pem\n');
    expect(dovecotConf).toContain('    port = 993\n');
  });

  it.each([
    ['a % in a path (Dovecot expands it)', { ...dovecot, dovecotPasswords: '/etc/dovecot/us%ers' }],
    ['a # in a path (a comment to Dovecot)', { ...dovecot, paths: { ...paths, caCrl: '/srv/#/ca-crl.pem' } }],
    ['whitespace', { ...dovecot, tls: { ...dovecot.tls, keyFile: '/etc/ssl/my key' } }],
    ['a bad port', { ...dovecot, ports: { imaps: 70000 } }],
    ['a submission policy (Dovecot configures IMAP logins)', { ...dovecot, policy: 2 as const }],
  ])('refuses %s', (_what, opts) => {
    expect(() => renderMtaConfig(opts)).toThrow(/mta-config: /);
  });

  it('a submission MTA needs a policy', () => {
    expect(() => renderMtaConfig({ ...base, mta: 'postfix' })).toThrow(/mta-config: postfix needs a submission policy/);
  });
});
