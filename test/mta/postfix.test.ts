/**
 * Postfix runs the generated configs for all eight policies; certificates are decided by the pull client's policy
 * service (mailca-pull --format json --watch --policy-listen), fed by a stand-in server serving the JSON list the
 * test writes. Real clients: swaks, msmtp, curl, and a hand-driven session that stays open across a list change.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_NUMBERS, renderMtaConfig, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { describePolicyBehaviour } from './behaviour.ts';
import { MTA_SKIP_REASON, MtaTestEnvironment } from './environment.ts';
import { curlSmtp, msmtp } from './mail-clients.ts';
import { PolicyService } from './policy-service.ts';
import { policyPorts, policyServicePort } from './ports.ts';
import { PostfixInstance } from './postfix-instance.ts';
import { runOk } from './run.ts';
import { PORTAL_URL } from './published.ts';
import { SmtpSession } from './smtp-session.ts';
import { authenticationWording } from '../../web/src/views/smtp-auth.ts';
import { authOffered, externalOffered, recommendedSubmissionAuth, swaks } from './swaks.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 20400;
const ALIAS = 'alice.alias@example.test';
const ENROL = `client certificate required - enrol at ${PORTAL_URL}`;

describe.skipIf(MTA_SKIP_REASON !== undefined)('Postfix runs the generated configs (policy service)', () => {
  let environment: MtaTestEnvironment;
  let postfix: PostfixInstance;
  let policy: PolicyService;
  const port = (p: PolicyNumber): number => {
    const ports = policyPorts(PORT_BASE, p);
    return p <= 3 ? ports.tlsOnConnect : ports.submission;
  };
  const tlsOf = (p: PolicyNumber) => (p <= 3 ? ('tls-on-connect' as const) : ('starttls' as const));
  const explain = (transcript: string) => `${transcript}\n--- postfix log (tail) ---\n${postfix.log().split('\n').slice(-12).join('\n')}\n--- policy service ---\n${policy.output().split('\n').slice(-8).join('\n')}`;
  const listAlice = () => environment.published.writeAllowlist([{ certificate: environment.pki.listed, senders: [ALICE.login, ALIAS] }]);

  beforeAll(async () => {
    environment = new MtaTestEnvironment('postfix');
    listAlice();
    environment.published.writeSenders({ [ALICE.login]: [ALICE.login, ALIAS], [BOB.login]: [BOB.login] });
    const pulled = join(environment.dir, 'pulled');
    mkdirSync(pulled);
    policy = new PolicyService(environment.published, policyServicePort(PORT_BASE), pulled);
    await policy.start();
    postfix = new PostfixInstance(join(environment.dir, 'postfix'));
    // One instance serves all eight policies, each on its own port (mailca_pN_* parameters do not collide).
    postfix.writeConfig(POLICY_NUMBERS.map((p) => renderMtaConfig({ ...environment.renderOptions('postfix', p, PORT_BASE), mta: 'postfix' })));
    postfix.start();
  });

  afterAll(async () => {
    postfix?.stop();
    await policy?.stop();
    environment?.remove();
  });

  describePolicyBehaviour('postfix', () => ({ pki: environment.pki, port, log: () => postfix.log() }));

  it.each([2, 3, 5, 7, 8] as const)('policy %i: the owner and an alias are accepted, another user\'s address refused with the exact message', (p) => {
    const certificate = environment.pki.listed;
    for (const from of [ALICE.login, ALIAS]) {
      const r = swaks({ port: port(p), tls: tlsOf(p), certificate, from });
      expect(r.accepted, explain(r.transcript)).toBe(true);
    }
    const other = swaks({ port: port(p), tls: tlsOf(p), certificate, from: BOB.login });
    expect(other.exitCode, explain(other.transcript)).toBe(24);
    // Postfix puts "<recipient>: Recipient address rejected: " before the policy's text.
    expect(other.transcript).toContain(`554 5.7.1 <someone@example.org>: Recipient address rejected: <${BOB.login}>: not allowed for this client certificate`);
    // Alice's certificate with bob's password: two different users.
    const mixed = swaks({ port: port(p), tls: tlsOf(p), certificate, auth: BOB, from: BOB.login });
    expect(mixed.exitCode, explain(mixed.transcript)).toBe(24);
    expect(mixed.transcript).toContain(`<${BOB.login}>: SASL login does not match the client certificate of ${ALICE.login}`);
  });

  it.each([2, 5, 7] as const)('policy %i: a grace user\'s password works for their own address only; an enforced user\'s password gets the enrol link', (p) => {
    const own = swaks({ port: port(p), tls: tlsOf(p), auth: BOB, from: BOB.login });
    expect(own.accepted, explain(own.transcript)).toBe(true);
    const other = swaks({ port: port(p), tls: tlsOf(p), auth: BOB, from: ALICE.login });
    expect(other.exitCode, explain(other.transcript)).toBe(24);
    expect(other.transcript).toMatch(/553 5\.7\.1 <alice@example\.test>: Sender address rejected: not owned by user bob@example\.test/);
    const enforced = swaks({ port: port(p), tls: tlsOf(p), auth: ALICE, from: ALICE.login });
    expect(enforced.exitCode, explain(enforced.transcript)).toBe(24);
    expect(enforced.transcript).toContain(`554 5.7.1 <someone@example.org>: Recipient address rejected: ${ENROL}`);
  });

  it.each([1, 4, 6] as const)('policy %i (no certificates): a password sends as its own address, an alias and the null sender; another user\'s address is refused', (p) => {
    for (const from of [ALICE.login, ALIAS, '<>']) {
      const r = swaks({ port: port(p), tls: tlsOf(p), auth: ALICE, from });
      expect(r.accepted, explain(r.transcript)).toBe(true);
    }
    for (const from of [ALICE.login, ALIAS]) {
      const other = swaks({ port: port(p), tls: tlsOf(p), auth: BOB, from });
      expect(other.exitCode, explain(other.transcript)).toBe(24);
      expect(other.transcript).toContain(`553 5.7.1 <${from}>: Sender address rejected: not owned by user ${BOB.login}`);
    }
  });

  it('msmtp (auth off, tls_cert_file/tls_key_file) and curl smtps:// / smtp:// --cert: owner accepted, another address refused', () => {
    const base = { caFile: environment.pki.caFile, certificate: environment.pki.listed };
    for (const p of [3, 8] as const) {
      const ok = msmtp({ ...base, port: port(p), tls: tlsOf(p), auth: 'off', from: ALIAS });
      expect(ok.accepted, explain(ok.transcript)).toBe(true);
      const refused = msmtp({ ...base, port: port(p), tls: tlsOf(p), auth: 'off', from: BOB.login });
      expect(refused.accepted, explain(refused.transcript)).toBe(false);
      expect(refused.transcript).toContain(`<${BOB.login}>: not allowed for this client certificate`);
      const curlOk = curlSmtp({ ...base, port: port(p), tls: tlsOf(p), from: ALICE.login });
      expect(curlOk.accepted, explain(curlOk.transcript)).toBe(true);
      const curlRefused = curlSmtp({ ...base, port: port(p), tls: tlsOf(p), from: BOB.login });
      expect(curlRefused.accepted, explain(curlRefused.transcript)).toBe(false);
      expect(curlRefused.transcript).toContain('not allowed for this client certificate');
    }
    // Postfix offers no AUTH EXTERNAL: a program set to "TLS certificate" (SASL EXTERNAL) fails there.
    const external = msmtp({ ...base, port: port(3), tls: 'tls-on-connect', auth: 'external', from: ALICE.login });
    expect(external.accepted, external.transcript).toBe(false);
    expect(external.transcript).toMatch(/does not support authentication method EXTERNAL/i);
  });

  it.each([2, 3, 5, 7, 8] as const)('policy %i: the portal wording for the MAILCA_SUBMISSION_AUTH the notes recommend matches the AUTH line advertised', (p) => {
    const { notes } = renderMtaConfig({ ...environment.renderOptions('postfix', p, PORT_BASE), mta: 'postfix' });
    const wording = authenticationWording(recommendedSubmissionAuth(notes));
    const ehlo = swaks({ port: port(p), tls: tlsOf(p), certificate: environment.pki.listed, quitAfter: 'EHLO' });
    expect(authOffered(ehlo.transcript), ehlo.transcript).toBe(true);
    // 'TLS Certificate' sends SASL EXTERNAL: tell users to pick it exactly where the server offers it.
    expect(wording.method === 'TLS Certificate', ehlo.transcript).toBe(externalOffered(ehlo.transcript));
  });

  it('a certificate removed from the list is refused at the next RCPT of an open session, with no postfix reload', async () => {
    const reloadsBefore = (postfix.log().match(/reload/g) ?? []).length;
    const session = await SmtpSession.tlsOnConnect(port(3), environment.pki.caFile, environment.pki.listed);
    try {
      expect((await session.command('EHLO client.example.test')).code).toBe(250);
      expect((await session.command(`MAIL FROM:<${ALICE.login}>`)).code).toBe(250);
      const first = await session.command('RCPT TO:<one@example.org>');
      expect(first.code, explain(first.text)).toBe(250);

      // Alice's certificate leaves the list (another stays: the pull client refuses an empty list replacing a full one).
      environment.published.writeAllowlist([environment.pki.unlisted]);
      await policy.sync();
      const second = await session.command('RCPT TO:<two@example.org>');
      expect(second.code, explain(second.text)).toBe(554);
      expect(second.text).toContain(ENROL);

      listAlice();
      await policy.sync();
      const third = await session.command('RCPT TO:<three@example.org>');
      expect(third.code, explain(third.text)).toBe(250);
    } finally {
      session.close();
    }
    expect((postfix.log().match(/reload/g) ?? []).length).toBe(reloadsBefore);
  });
});

describe.skipIf(MTA_SKIP_REASON !== undefined)('Postfix with --postfix-maps cdb (no policy service): postmap, no reload', () => {
  const CDB_PORT_BASE = 20460;
  let environment: MtaTestEnvironment;
  let postfix: PostfixInstance;
  const postmapAll = () => {
    const { postfixAllowlist, postfixEnforcement, postfixSenders } = environment.published.paths;
    for (const file of [postfixAllowlist, postfixEnforcement, postfixSenders]) runOk('postmap', ['-c', postfix.configDir, `cdb:${file}`]);
  };
  const port = (p: PolicyNumber): number => (p <= 3 ? policyPorts(CDB_PORT_BASE, p).tlsOnConnect : policyPorts(CDB_PORT_BASE, p).submission);
  const explain = (transcript: string) => `${transcript}\n--- postfix log (tail) ---\n${postfix.log().split('\n').slice(-12).join('\n')}`;

  beforeAll(() => {
    environment = new MtaTestEnvironment('postfix-cdb');
    environment.published.writeSenders({ [ALICE.login]: [ALICE.login, ALIAS], [BOB.login]: [BOB.login] });
    postfix = new PostfixInstance(join(environment.dir, 'postfix'));
    postfix.writeConfig(([3, 6, 7] as const).map((p) => renderMtaConfig({ ...environment.renderOptions('postfix', p, CDB_PORT_BASE), postfixMaps: 'cdb', mta: 'postfix' })));
    postmapAll();
    postfix.start();
  });

  afterAll(() => {
    postfix?.stop();
    environment?.remove();
  });

  it('a certificate removed from the list and postmapped is refused at the next connection, with no postfix reload', () => {
    const listed = { port: port(3), tls: 'tls-on-connect' as const, certificate: environment.pki.listed };
    const before = swaks(listed);
    expect(before.accepted, explain(before.transcript)).toBe(true);
    environment.published.writeAllowlist([environment.pki.unlisted]);
    postmapAll();
    const after = swaks(listed);
    expect(after.exitCode, explain(after.transcript)).toBe(24);
    expect(after.transcript).toContain(ENROL);
    environment.published.writeAllowlist([environment.pki.listed]);
    postmapAll();
    expect(swaks(listed).accepted).toBe(true);
    expect(postfix.log()).not.toMatch(/reload/);
  });

  it('password users: own address accepted, another user\'s refused; an enforced user gets the enrol link', () => {
    const own = swaks({ port: port(7), tls: 'starttls', auth: BOB, from: BOB.login });
    expect(own.accepted, explain(own.transcript)).toBe(true);
    const other = swaks({ port: port(7), tls: 'starttls', auth: BOB, from: ALICE.login });
    expect(other.exitCode, explain(other.transcript)).toBe(24);
    expect(other.transcript).toContain('not owned by user bob@example.test');
    const enforced = swaks({ port: port(7), tls: 'starttls', auth: ALICE, from: ALICE.login });
    expect(enforced.exitCode, explain(enforced.transcript)).toBe(24);
    expect(enforced.transcript).toContain(ENROL);
  });

  it('policy 6 (no certificates): password users bound by the same cdb: senders map; the enforcement map does not apply', () => {
    for (const from of [ALICE.login, ALIAS, '<>']) {
      const r = swaks({ port: port(6), tls: 'starttls', auth: ALICE, from });
      expect(r.accepted, explain(r.transcript)).toBe(true);
    }
    const other = swaks({ port: port(6), tls: 'starttls', auth: BOB, from: ALIAS });
    expect(other.exitCode, explain(other.transcript)).toBe(24);
    expect(other.transcript).toContain(`553 5.7.1 <${ALIAS}>: Sender address rejected: not owned by user ${BOB.login}`);
  });
});
