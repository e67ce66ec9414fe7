/**
 * mailca → mailca pull → Postfix, end to end: Postfix runs the configuration `mailca mta-config` prints and reads
 * only the files the pull client fetched from a running mailca server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { MTA_SKIP_REASON } from './environment.ts';
import {
  describeCertificatePolicies,
  itRefusesEnforcedUserAfterGrace,
  E2eMailca,
  ENROL_MESSAGE,
  repeatUntil,
  sleep,
  smtpOutcomes,
  startPostfixFromCli,
  watchUpdateTime,
  type IssuedClientCertificate,
  type PullDirectory,
} from './e2e-harness.ts';
import { POSTFIX_BIN, PostfixInstance } from './postfix-instance.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 22000;
const CERTIFICATE_POLICIES: readonly PolicyNumber[] = [2, 3, 5, 7, 8];

describe.skipIf(MTA_SKIP_REASON !== undefined)('mailca → pull → Postfix (generated config, pulled files)', () => {
  let mailca: E2eMailca;
  let files: PullDirectory;
  let postfix: PostfixInstance;
  let reload: string;
  let aliceCert: IssuedClientCertificate;
  let bobCert: IssuedClientCertificate;

  const { on, explain, expectOutcome } = smtpOutcomes(PORT_BASE, 'postfix', () => postfix.log());
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
    startPostfixFromCli(postfix, outputs);
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

  // Per policy: enrolled certificates accepted; an unlisted one, another CA's, or nothing refused; a password alone
  // accepted only where certificates are optional (e2e-harness.ts).
  describeCertificatePolicies(CERTIFICATE_POLICIES, () => ({ mailca, files, aliceCert, bobCert, expectOutcome }));

  itRefusesEnforcedUserAfterGrace(CERTIFICATE_POLICIES, () => ({ mailca, files, aliceCert, bobCert, expectOutcome, pull, explain }));

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
