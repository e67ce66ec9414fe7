import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_NUMBERS, renderMtaConfig, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { describePolicyBehaviour } from './behaviour.ts';
import { MTA_SKIP_REASON, MtaTestEnvironment } from './environment.ts';
import { EximInstance } from './exim-instance.ts';
import { policyPorts } from './ports.ts';
import { msmtp } from './mail-clients.ts';
import { PORTAL_URL } from './published.ts';
import { PolicyService } from './policy-service.ts';
import { policyServicePort } from './ports.ts';
import { mkdirSync } from 'node:fs';
import { SmtpSession } from './smtp-session.ts';
import { authenticationWording } from '../../web/src/views/smtp-auth.ts';
import { authOffered, externalOffered, recommendedSubmissionAuth, swaks, type SwaksRequest } from './swaks.ts';
import { ALICE, BOB } from './users.ts';

const ALIAS = 'alice.alias@example.test';
const BOB_ALIAS = 'bobby@example.test';
const SENDERS = { [ALICE.login]: [ALICE.login, ALIAS], [BOB.login]: [BOB.login, BOB_ALIAS] };

const PORT_BASE = 20600;

describe.skipIf(MTA_SKIP_REASON !== undefined)('Exim runs the generated configs', () => {
  let environment: MtaTestEnvironment;
  // One daemon per policy: the TLS verification options are global in Exim.
  const daemons = new Map<PolicyNumber, EximInstance>();
  const port = (policy: PolicyNumber): number => {
    const ports = policyPorts(PORT_BASE, policy);
    return policy <= 3 ? ports.tlsOnConnect : ports.submission;
  };
  const daemon = (policy: PolicyNumber): EximInstance => {
    const instance = daemons.get(policy);
    if (!instance) throw new Error(`no Exim for policy ${policy}`);
    return instance;
  };

  beforeAll(async () => {
    environment = new MtaTestEnvironment('exim');
    environment.published.writeSenders(SENDERS);
    for (const policy of POLICY_NUMBERS) {
      const instance = new EximInstance(join(environment.dir, `exim-p${policy}`));
      instance.writeConfig(renderMtaConfig({ ...environment.renderOptions('exim', policy, PORT_BASE), mta: 'exim' }));
      daemons.set(policy, instance);
      await instance.start();
    }
  });

  afterAll(() => {
    for (const instance of daemons.values()) instance.stop();
    environment?.remove();
  });

  describePolicyBehaviour('exim', () => ({
    pki: environment.pki,
    port,
    log: () => [...daemons.values()].map((instance) => instance.log()).join('\n'),
  }));

  describe('sender binding and AUTH EXTERNAL (allow-list lines "HEX: owner : alias")', () => {
    const tlsOf = (policy: PolicyNumber) => (policy <= 3 ? ('tls-on-connect' as const) : ('starttls' as const));
    const explain = (policy: PolicyNumber, transcript: string) => `${transcript}\n--- exim log ---\n${daemon(policy).log().split('\n').slice(-10).join('\n')}`;
    const listAlice = () => environment.published.writeAllowlist([{ certificate: environment.pki.listed, senders: [ALICE.login, ALIAS] }]);

    it.each([2, 3, 5, 7, 8] as const)('policy %i: owner and alias accepted, another address and another login refused', (policy) => {
      listAlice();
      const certificate = environment.pki.listed;
      for (const from of [ALICE.login, ALIAS]) {
        const r = swaks({ port: port(policy), tls: tlsOf(policy), certificate, from });
        expect(r.accepted, explain(policy, r.transcript)).toBe(true);
      }
      const other = swaks({ port: port(policy), tls: tlsOf(policy), certificate, from: BOB.login });
      expect(other.exitCode, explain(policy, other.transcript)).toBe(24);
      expect(other.transcript).toContain(`550 5.7.1 <${BOB.login}>: not allowed for this client certificate`);
      const mixed = swaks({ port: port(policy), tls: tlsOf(policy), certificate, auth: BOB, from: BOB.login });
      expect(mixed.accepted, explain(policy, mixed.transcript)).toBe(false);
      // Exim wraps long replies over two lines.
      expect(mixed.transcript).toContain(`<${BOB.login}>: SASL login does not match the client certificate`);
      expect(mixed.transcript).toContain(`of ${ALICE.login}`);
    });

    it.each([3, 5, 8] as const)('policy %i: AUTH EXTERNAL is offered with a verified certificate and sets the owner (msmtp auth external); not without one', (policy) => {
      listAlice();
      const ehlo = swaks({ port: port(policy), tls: tlsOf(policy), certificate: environment.pki.listed, quitAfter: 'EHLO' });
      expect(ehlo.transcript).toMatch(/^<~  250[- ]AUTH .*EXTERNAL/m);
      if (policy === 5) {
        const without = swaks({ port: port(policy), tls: tlsOf(policy), quitAfter: 'EHLO' });
        expect(authOffered(without.transcript), without.transcript).toBe(true);
        expect(without.transcript).not.toContain('EXTERNAL');
      }
      const base = { port: port(policy), tls: tlsOf(policy), caFile: environment.pki.caFile, certificate: environment.pki.listed };
      const external = msmtp({ ...base, auth: 'external', user: ALICE.login, from: ALIAS });
      expect(external.accepted, explain(policy, external.transcript)).toBe(true);
      expect(daemon(policy).log()).toMatch(/A=mailca_external:alice@example\.test/);
      const off = msmtp({ ...base, auth: 'off', from: ALICE.login });
      expect(off.accepted, explain(policy, off.transcript)).toBe(true);
      const refused = msmtp({ ...base, auth: 'external', user: ALICE.login, from: BOB.login });
      // An authorisation identity of another user is refused at AUTH.
      const otherId = msmtp({ ...base, auth: 'external', user: BOB.login, from: BOB.login });
      expect(otherId.accepted, explain(policy, otherId.transcript)).toBe(false);
      expect(otherId.transcript).toMatch(/535 Incorrect authentication data/);
      expect(refused.accepted, explain(policy, refused.transcript)).toBe(false);
      expect(refused.transcript).toContain('not allowed for this client certificate');
    });

    it.each([2, 5, 7] as const)('policy %i: a grace user\'s password sends as their own address and alias only (senders.exim); an enforced user\'s gets the enrol link', (policy) => {
      for (const from of [BOB.login, BOB_ALIAS, '<>']) {
        const r = swaks({ port: port(policy), tls: tlsOf(policy), auth: BOB, from });
        expect(r.accepted, explain(policy, r.transcript)).toBe(true);
      }
      const other = swaks({ port: port(policy), tls: tlsOf(policy), auth: BOB, from: ALICE.login });
      expect(other.exitCode, explain(policy, other.transcript)).toBe(24);
      expect(other.transcript).toContain(`550 5.7.1 <${ALICE.login}>: not owned by user ${BOB.login}`);
      const enforced = swaks({ port: port(policy), tls: tlsOf(policy), auth: ALICE, from: ALICE.login });
      expect(enforced.accepted, explain(policy, enforced.transcript)).toBe(false);
      expect(enforced.transcript).toContain(`client certificate required - enrol at ${PORTAL_URL}`);
    });

    it.each([1, 4, 6] as const)('policy %i (no certificates): a password sends as its own address and alias only (senders.exim); the enforcement map does not apply', (policy) => {
      for (const [user, from] of [[BOB, BOB.login], [BOB, BOB_ALIAS], [BOB, '<>'], [ALICE, ALIAS]] as const) {
        const r = swaks({ port: port(policy), tls: tlsOf(policy), auth: user, from });
        expect(r.accepted, explain(policy, r.transcript)).toBe(true);
      }
      for (const from of [ALICE.login, ALIAS]) {
        const other = swaks({ port: port(policy), tls: tlsOf(policy), auth: BOB, from });
        expect(other.exitCode, explain(policy, other.transcript)).toBe(24);
        expect(other.transcript).toContain(`550 5.7.1 <${from}>: not owned by user ${BOB.login}`);
      }
    });

  it.each([2, 3, 5, 7, 8] as const)('policy %i: the portal wording for the MAILCA_SUBMISSION_AUTH the notes recommend matches the AUTH line advertised', (p) => {
      const { notes } = renderMtaConfig({ ...environment.renderOptions('exim', p, PORT_BASE), mta: 'exim' });
      const wording = authenticationWording(recommendedSubmissionAuth(notes));
      const ehlo = swaks({ port: port(p), tls: tlsOf(p), certificate: environment.pki.listed, quitAfter: 'EHLO' });
      expect(authOffered(ehlo.transcript), ehlo.transcript).toBe(true);
      // 'TLS Certificate' sends SASL EXTERNAL: tell users to pick it exactly where the server offers it.
      expect(wording.method === 'TLS Certificate', ehlo.transcript).toBe(externalOffered(ehlo.transcript));
    });

  });

  describe('--exim-lookup policy-service: the pull client answers per RCPT', () => {
    const LOOKUP_BASE = 20700;
    let policy: PolicyService;
    let exim: EximInstance;
    let optionalExim: EximInstance;
    let passwordExim: EximInstance;
    const lookupPort = policyPorts(LOOKUP_BASE, 3).tlsOnConnect;
    const optionalPort = policyPorts(LOOKUP_BASE, 7).submission;
    const passwordPort = policyPorts(LOOKUP_BASE, 6).submission;
    const listAlice = () => environment.published.writeAllowlist([{ certificate: environment.pki.listed, senders: [ALICE.login, ALIAS] }]);

    beforeAll(async () => {
      listAlice();
      const pulled = join(environment.dir, 'pulled-exim');
      mkdirSync(pulled, { recursive: true });
      policy = new PolicyService(environment.published, policyServicePort(LOOKUP_BASE), pulled);
      await policy.start();
      exim = new EximInstance(join(environment.dir, 'exim-lookup'));
      exim.writeConfig(renderMtaConfig({ ...environment.renderOptions('exim', 3, LOOKUP_BASE), mta: 'exim', eximLookup: 'policy-service' }));
      await exim.start();
      optionalExim = new EximInstance(join(environment.dir, 'exim-lookup-p7'));
      optionalExim.writeConfig(renderMtaConfig({ ...environment.renderOptions('exim', 7, LOOKUP_BASE), mta: 'exim', eximLookup: 'policy-service' }));
      await optionalExim.start();
      passwordExim = new EximInstance(join(environment.dir, 'exim-lookup-p6'));
      passwordExim.writeConfig(renderMtaConfig({ ...environment.renderOptions('exim', 6, LOOKUP_BASE), mta: 'exim', eximLookup: 'policy-service' }));
      await passwordExim.start();
    });
    afterAll(async () => {
      passwordExim?.stop();
      optionalExim?.stop();
      exim?.stop();
      await policy?.stop();
    });

    it.each([7, 6] as const)('policy %i: a password user (in grace on 7) sends as their own address and alias only (the service\'s senders table)', (p) => {
      const [instance, port] = p === 7 ? [optionalExim, optionalPort] : [passwordExim, passwordPort];
      const explainHere = (t: string) => `${t}\n--- exim log ---\n${instance.log().split('\n').slice(-10).join('\n')}\n--- pull ---\n${policy.output().split('\n').slice(-6).join('\n')}`;
      for (const from of [BOB.login, BOB_ALIAS, '<>']) {
        const r = swaks({ port, tls: 'starttls', auth: BOB, from });
        expect(r.accepted, explainHere(r.transcript)).toBe(true);
      }
      const other = swaks({ port, tls: 'starttls', auth: BOB, from: ALICE.login });
      expect(other.exitCode, explainHere(other.transcript)).toBe(24);
      expect(other.transcript).toContain(`550 5.7.1 <${ALICE.login}>: not owned by user ${BOB.login}`);
      // Policy 6 asks for no certificate; on 7 a listed one sends as its owner's alias.
      if (p === 7) {
        const certificate = swaks({ port, tls: 'starttls', certificate: environment.pki.listed, from: ALIAS });
        expect(certificate.accepted, explainHere(certificate.transcript)).toBe(true);
      }
    });

    it('owner and alias accepted, another sender refused; a certificate the pull drops is refused at the next RCPT of an open session', async () => {
      const explainHere = (t: string) => `${t}\n--- exim log ---\n${exim.log().split('\n').slice(-10).join('\n')}\n--- pull ---\n${policy.output().split('\n').slice(-6).join('\n')}`;
      for (const from of [ALICE.login, ALIAS]) {
        const r = swaks({ port: lookupPort, tls: 'tls-on-connect', certificate: environment.pki.listed, from });
        expect(r.accepted, explainHere(r.transcript)).toBe(true);
      }
      const other = swaks({ port: lookupPort, tls: 'tls-on-connect', certificate: environment.pki.listed, from: BOB.login });
      expect(other.transcript, explainHere(other.transcript)).toContain(`550 5.7.1 <${BOB.login}>: not allowed for this client certificate`);

      const session = await SmtpSession.tlsOnConnect(lookupPort, environment.pki.caFile, environment.pki.listed);
      try {
        expect((await session.command('EHLO client.example.test')).code).toBe(250);
        expect((await session.command(`MAIL FROM:<${ALICE.login}>`)).code).toBe(250);
        const first = await session.command('RCPT TO:<one@example.org>');
        expect(first.code, explainHere(first.text)).toBe(250);
        // The pull client replaces its file by rename and swaps its in-memory list; Exim asks it again at the next RCPT.
        environment.published.writeAllowlist([{ certificate: environment.pki.unlisted, senders: [BOB.login] }]);
        await policy.sync();
        const second = await session.command('RCPT TO:<two@example.org>');
        expect(second.code, explainHere(second.text)).toBe(550);
        expect(second.text).toContain(`client certificate required - enrol at ${PORTAL_URL}`);
      } finally {
        session.close();
        listAlice();
        await policy.sync();
      }
    });
  });

  it('a fingerprint removed from the lsearch allow-list is refused on the next connection, without reload', () => {
    const listed: SwaksRequest = { tls: 'starttls', certificate: environment.pki.listed, port: port(8) };
    expect(swaks(listed).accepted).toBe(true);
    environment.published.writeAllowlist([]);
    const afterRemoval = swaks(listed);
    expect(afterRemoval.accepted, afterRemoval.transcript).toBe(false);
    expect(afterRemoval.transcript).toContain('client certificate required - enrol at');
    environment.published.writeAllowlist([environment.pki.listed]);
    expect(swaks(listed).accepted).toBe(true);
  });

  it('a listed certificate revoked in tls_crl is refused after SIGHUP', async () => {
    const onPolicy = (policy: PolicyNumber): SwaksRequest => ({
      tls: policy <= 3 ? 'tls-on-connect' : 'starttls',
      certificate: environment.pki.listed,
      port: port(policy),
    });
    for (const policy of [3, 5, 8] as const) expect(swaks(onPolicy(policy)).accepted).toBe(true);

    environment.pki.revoke(environment.pki.listed.certFile);
    environment.published.refreshCrl();
    // Exim 4.96 may notice the changed file by itself; SIGHUP makes sure (the generated notes say to send it).
    for (const policy of [3, 5, 8] as const) await daemon(policy).reload();

    for (const policy of [3, 5, 8] as const) {
      const result = swaks(onPolicy(policy));
      expect(result.accepted, `policy ${policy}\n${result.transcript}`).toBe(false);
    }
  });


});
