/**
 * mailca → mailca pull → Postfix, end to end: Postfix runs the configuration `mailca mta-config` prints and reads
 * only the files the pull client fetched from a running mailca server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { POLICIES } from '../../src/publishers/mta-config/index.ts';
import { MTA_SKIP_REASON } from './environment.ts';
import {
  E2eMailca,
  ENROL_MESSAGE,
  listener,
  opensslVerify,
  postfixFromCli,
  repeatUntil,
  sleep,
  watchUpdateTime,
  smtp,
  type IssuedClientCertificate,
  type PullDirectory,
  type SmtpAttempt,
  type SmtpResult,
} from './e2e-harness.ts';
import { POSTFIX_BIN, PostfixInstance } from './postfix-instance.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 22000;
const CERTIFICATE_POLICIES: readonly PolicyNumber[] = [2, 3, 5, 7, 8];
const OPTIONAL: readonly PolicyNumber[] = CERTIFICATE_POLICIES.filter((p) => POLICIES[p].clientCertificates === 'optional');

describe.skipIf(MTA_SKIP_REASON !== undefined)('mailca → pull → Postfix (generated config, pulled files)', () => {
  let mailca: E2eMailca;
  let files: PullDirectory;
  let postfix: PostfixInstance;
  let reload: string;
  let aliceCert: IssuedClientCertificate;
  let bobCert: IssuedClientCertificate;

  const on = (policy: PolicyNumber, request: Omit<SmtpAttempt, 'port' | 'tls'>): Promise<SmtpResult> => smtp({ ...listener(PORT_BASE, policy), ...request });
  const explain = (policy: PolicyNumber, r: SmtpResult): string =>
    `policy ${policy}\n${r.transcript}\n--- postfix log (tail) ---\n${postfix.log().split('\n').slice(-12).join('\n')}`;
  const expectOutcome = async (policy: PolicyNumber, request: Omit<SmtpAttempt, 'port' | 'tls'>, accepted: boolean): Promise<SmtpResult> => {
    const r = await on(policy, request);
    expect(r.accepted, explain(policy, r)).toBe(accepted);
    return r;
  };
  /** One-shot pull that reloads Postfix when a file changed (texthash maps are read at smtpd start only). */
  const pull = () => mailca.pull(files, { then: reload });

  beforeAll(async () => {
    mailca = await E2eMailca.start('postfix');
    aliceCert = await mailca.enrol(ALICE.login);
    bobCert = await mailca.enrol(BOB.login);
    files = mailca.pullDirectory('postfix');
    postfix = new PostfixInstance(join(mailca.dir, 'postfix'));
    reload = `${POSTFIX_BIN} -c ${postfix.configDir} reload`;

    const outputs = await Promise.all(CERTIFICATE_POLICIES.map((policy) => mailca.mtaConfig('postfix', policy, PORT_BASE, files)));
    // First fill of the pulled files with `mailca pull` itself (Postfix is not running yet: no --then).
    const first = await mailca.pull(files, { via: 'mailca' });
    expect(first.stdout).toMatch(/updated .*allowlist\.postfix \(2 entries\)/);
    postfix.writeConfig(outputs.map(postfixFromCli));
    const check = postfix.check();
    expect(check.status, `${check.stderr}${postfix.log()}`).toBe(0);
    postfix.start();
  });

  afterAll(async () => {
    postfix?.stop();
    await mailca?.stop();
  });

  it('Postfix runs the CLI output, which points at the pulled files', () => {
    const mainCf = readFileSync(join(postfix.configDir, 'main.cf'), 'utf8');
    const masterCf = readFileSync(join(postfix.configDir, 'master.cf'), 'utf8');
    expect(mainCf).toContain(`texthash:${files.allowlist}`);
    expect(mainCf).toContain(`texthash:${files.enforcement}`);
    expect(masterCf).toContain(`smtpd_tls_CAfile=${files.ca}`);
    expect(postfix.log()).not.toMatch(/fatal|panic|warning/);
  });

  describe.each(CERTIFICATE_POLICIES)('policy %i', (policy) => {
    const mode = POLICIES[policy].clientCertificates;

    it('a certificate enrolled through mailca is accepted without a password', async () => {
      await expectOutcome(policy, { certificate: aliceCert }, true);
      await expectOutcome(policy, { certificate: bobCert }, true);
    });

    it('a certificate with a valid chain to the mailca CA that is not on the allow-list is refused', async () => {
      const unknown = await mailca.unrecordedCertificate(BOB.login);
      const verify = await opensslVerify(files.ca, unknown.certFile);
      expect(verify.stdout, verify.stderr).toContain(': OK');
      await expectOutcome(policy, { certificate: unknown }, false);
      // A password does not rescue it under mandatory certificates.
      if (mode === 'mandatory') await expectOutcome(policy, { certificate: unknown, auth: BOB }, false);
    });

    it('a certificate from another CA is refused', async () => {
      await expectOutcome(policy, { certificate: mailca.pki.unlisted }, false);
    });

    it('no certificate and no password is refused', async () => {
      await expectOutcome(policy, {}, false);
    });

    it(`a password without a certificate is ${mode === 'optional' ? 'accepted' : 'refused'}`, async () => {
      await expectOutcome(policy, { auth: BOB }, mode === 'optional');
    });
  });

  it('a grace user may send with a password; once enforced through the API (and a pull) refused with the enrol link; the certificate still works', async () => {
    await mailca.setEnforcement(ALICE.login, 'grace');
    await pull();
    for (const policy of OPTIONAL) await expectOutcome(policy, { auth: ALICE }, true);

    await mailca.setEnforcement(ALICE.login, 'enforced');
    const pulled = await pull();
    expect(pulled.stdout).toContain('enforcement.postfix');
    for (const policy of OPTIONAL) {
      const refused = await expectOutcome(policy, { auth: ALICE }, false);
      expect(refused.transcript, explain(policy, refused)).toContain('client certificate required - enrol at');
      expect(refused.transcript).toContain(ENROL_MESSAGE);
      // bob is not enforced and still sends with his password.
      await expectOutcome(policy, { auth: BOB }, true);
      // alice's enrolled certificate works, alone or with her password.
      await expectOutcome(policy, { certificate: aliceCert }, true);
      await expectOutcome(policy, { certificate: aliceCert, auth: ALICE }, true);
    }
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: aliceCert }, true);
  });

  it('a certificate revoked through the API is refused once the watching pull client has reloaded Postfix (time measured)', async () => {
    const phone = await mailca.enrol(BOB.login, 'bob-phone');
    await pull();
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: phone }, true);

    const watch = await mailca.watch(files, reload);
    // Let the client settle into its long poll (right after its first round it pauses up to a second).
    await sleep(1200);
    await mailca.revoke(phone.serial);
    const revokedAt = performance.now();
    const revokedWall = Date.now();
    const { ms, attempts, result, history } = await repeatUntil(
      () => on(8, { certificate: phone }),
      // 24 = RCPT refused: an SMTP refusal, not a connection problem.
      (r) => r.exitCode === 24,
      revokedAt,
    );
    await watch.stop();
    const pulledAt = watchUpdateTime(watch.output(), 'allowlist.postfix');
    console.log(
      `[e2e] Postfix: revoke response → first refused SMTP attempt: ${ms.toFixed(0)} ms ` +
        `(pull client --watch wrote the list and finished 'postfix reload' ${pulledAt - revokedWall} ms after the response; ` +
        `${attempts} attempts, swaks exit codes ${history.join(',')})`,
    );
    expect(result.transcript).toContain(ENROL_MESSAGE);
    expect(watch.output()).toMatch(/updated .*allowlist\.postfix \(2 entries\)/);
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: phone }, false);
    // The others are unaffected.
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: bobCert }, true);
  });
});
