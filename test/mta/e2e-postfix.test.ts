/**
 * mailca → mailca pull (policy service) → Postfix, end to end: Postfix runs the configuration `mailca mta-config`
 * prints and asks the pull client's policy service, which answers from the JSON list and senders table it pulls
 * from a running mailca server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { MTA_SKIP_REASON } from './environment.ts';
import { policyServicePort } from './ports.ts';
import {
  describeCertificatePolicies,
  itBindsPasswordUsersToTheirSenders,
  itRefusesEnforcedUserAfterGrace,
  E2eMailca,
  ENROL_MESSAGE,
  repeatUntil,
  serverPublishesSenderContract,
  listener,
  smtp,
  smtpOutcomes,
  startPostfixFromCli,
  watchUpdateTime,
  type IssuedClientCertificate,
  type PullDirectory,
  type PullWatch,
} from './e2e-harness.ts';
import { PostfixInstance } from './postfix-instance.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 22000;
/**
 * The optional-certificate policies need what the server publishes for the policy service beyond the older JSON
 * list (enforced_users, and the senders table their password users are bound by); the mandatory ones do not.
 */
const CONTRACT = MTA_SKIP_REASON === undefined && (await serverPublishesSenderContract());
if (MTA_SKIP_REASON === undefined && !CONTRACT) {
  console.warn('e2e Postfix: policies 1, 2, 4, 5, 6 and 7 skipped: this mailca server does not publish senders/enforced_users (GET /api/v1/senders?format=postfix)');
}
const CERTIFICATE_POLICIES: readonly PolicyNumber[] = CONTRACT ? [2, 3, 5, 7, 8] : [3, 8];
/** No client certificates: a password alone sends, bound to the login's senders (the policy service's socketmap). */
const PASSWORD_POLICIES: readonly PolicyNumber[] = CONTRACT ? [1, 4, 6] : [];
const SENDERS = { senders: CONTRACT };

describe.skipIf(MTA_SKIP_REASON !== undefined)('mailca → pull (policy service) → Postfix (generated config)', () => {
  let mailca: E2eMailca;
  let files: PullDirectory;
  let postfix: PostfixInstance;
  let policy: PullWatch;
  let aliceCert: IssuedClientCertificate;
  let bobCert: IssuedClientCertificate;

  const { on, explain, expectOutcome } = smtpOutcomes(PORT_BASE, 'postfix', () => postfix.log());
  /** Waits until the watching policy service holds what mailca publishes now: no reload, no postmap. */
  const pull = async (): Promise<undefined> => {
    await mailca.policySynced(files, SENDERS);
    return undefined;
  };

  beforeAll(async () => {
    mailca = await E2eMailca.start('postfix');
    aliceCert = await mailca.enrol(ALICE.login);
    bobCert = await mailca.enrol(BOB.login);
    files = mailca.pullDirectory('postfix');
    postfix = new PostfixInstance(join(mailca.dir, 'postfix'));

    const outputs = await Promise.all([...CERTIFICATE_POLICIES, ...PASSWORD_POLICIES].map((policy) => mailca.mtaConfig('postfix', policy, PORT_BASE, files)));
    // The CA bundle Postfix verifies against, with `mailca pull` itself; then the policy service.
    const first = await mailca.pull(files, { via: 'mailca' });
    expect(first.stdout).toMatch(/updated .*ca\.pem/);
    policy = await mailca.policyService(files, PORT_BASE, SENDERS);
    expect(policy.output()).toMatch(/updated .*allowlist\.json \(2 entries\)/);
    startPostfixFromCli(postfix, outputs);
  });

  afterAll(async () => {
    postfix?.stop();
    await mailca?.stop();
  });

  it('Postfix runs the CLI output, which asks the policy service', () => {
    const mainCf = readFileSync(join(postfix.configDir, 'main.cf'), 'utf8');
    const masterCf = readFileSync(join(postfix.configDir, 'master.cf'), 'utf8');
    expect(mainCf).toContain(`check_policy_service { inet:127.0.0.1:${policyServicePort(PORT_BASE)},`);
    if (CONTRACT) expect(mainCf).toContain(`socketmap:inet:127.0.0.1:${policyServicePort(PORT_BASE)}:senders`);
    for (const p of PASSWORD_POLICIES) {
      expect(mainCf).toContain(`mailca_p${p}_sender_login_maps = socketmap:inet:127.0.0.1:${policyServicePort(PORT_BASE)}:senders`);
      expect(masterCf).toContain(`-o smtpd_sender_login_maps=$mailca_p${p}_sender_login_maps`);
    }
    expect(mainCf).not.toContain('texthash');
    expect(masterCf).toContain(`smtpd_tls_CAfile=${files.ca}`);
    expect(postfix.log()).not.toMatch(/fatal|panic|warning/);
  });

  // Per policy: enrolled certificates accepted; an unlisted one, another CA's, or nothing refused; a password alone
  // accepted only where certificates are optional (e2e-harness.ts).
  describeCertificatePolicies(CERTIFICATE_POLICIES, () => ({ mailca, files, aliceCert, bobCert, expectOutcome }));

  itRefusesEnforcedUserAfterGrace(CERTIFICATE_POLICIES, () => ({ mailca, files, aliceCert, bobCert, expectOutcome, pull, explain }));

  // No client certificates: password users bound by the same socketmap as on 2, 5 and 7.
  if (PASSWORD_POLICIES.length > 0) {
    itBindsPasswordUsersToTheirSenders(PASSWORD_POLICIES, () => ({ mailca, expectOutcome, explain, pull }), (sender, login) => `553 5.7.1 <${sender}>: Sender address rejected: not owned by user ${login}`);
  }

  it('a certificate revoked through the API is refused at the next RCPT via the policy service, no reload (time measured)', async () => {
    const phone = await mailca.enrol(BOB.login, 'bob-phone');
    await pull();
    for (const p of CERTIFICATE_POLICIES) await expectOutcome(p, { certificate: phone }, true);

    const reloads = (postfix.log().match(/reload/g) ?? []).length;
    await mailca.revoke(phone.serial);
    const revokedAt = performance.now();
    const revokedWall = Date.now();
    const { ms, attempts, result, history } = await repeatUntil(
      () => on(8, { certificate: phone }),
      // 24 = RCPT refused: an SMTP refusal, not a connection problem.
      (r) => r.exitCode === 24,
      revokedAt,
    );
    const pulledAt = watchUpdateTime(policy.output().split('\n').filter((l) => Date.parse(l.split(' ')[0] ?? '') >= revokedWall).join('\n'), 'allowlist.json');
    console.log(
      `[e2e] Postfix (policy service): revoke response → first refused SMTP attempt: ${ms.toFixed(0)} ms ` +
        `(the policy service had the new list ${pulledAt - revokedWall} ms after the response; ${attempts} attempts, swaks exit codes ${history.join(',')})`,
    );
    // An older server's list has no portal_url: the policy service names the --url instead.
    expect(result.transcript).toContain(CONTRACT ? ENROL_MESSAGE : 'client certificate required - enrol at ');
    expect((postfix.log().match(/reload/g) ?? []).length).toBe(reloads);
    for (const p of CERTIFICATE_POLICIES) await expectOutcome(p, { certificate: phone }, false);
    // The others are unaffected.
    for (const p of CERTIFICATE_POLICIES) await expectOutcome(p, { certificate: bobCert }, true);
  });

  it("a certificate may send as its owner only: another user's address is refused with the exact message", async () => {
    const r = await smtp({ ...listener(PORT_BASE, 8), certificate: aliceCert, from: BOB.login });
    expect(r.exitCode, explain(8, r)).toBe(24);
    expect(r.transcript).toContain(`<${BOB.login}>: not allowed for this client certificate`);
  });
});
