/**
 * CA rollover end to end with real Postfix on the mandatory-certificate policies (3 and 8), where smtpd verifies
 * the client's chain against smtpd_tls_CAfile = the pulled ca.pem: certificates of the old and the new CA both work
 * during the rollover; after the old CA is retired only the new CA's do.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retireCa } from '../../src/enrolment/ca-rollover.ts';
import { rotateCa } from '../../src/issuance/authority.ts';
import type { PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import type { CaRecord } from '../../src/store/index.ts';
import { testActor } from '../helpers/mailca.ts';
import {
  E2eMailca,
  opensslVerify,
  pemBlocks,
  smtpOutcomes,
  startPostfixFromCli,
  type IssuedClientCertificate,
  type PullDirectory,
  type SmtpResult,
} from './e2e-harness.ts';
import { MTA_SKIP_REASON } from './environment.ts';
import { POSTFIX_BIN, PostfixInstance } from './postfix-instance.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 22400;
const MANDATORY: readonly PolicyNumber[] = [3, 8];

describe.skipIf(MTA_SKIP_REASON !== undefined)('CA rollover with real Postfix (mandatory certificates)', () => {
  let mailca: E2eMailca;
  let files: PullDirectory;
  let postfix: PostfixInstance;
  let reload: string;
  let oldCa: CaRecord;
  let newCa: CaRecord;
  let aliceOld: IssuedClientCertificate;
  let bobNew: IssuedClientCertificate;

  const smtpOutcome = smtpOutcomes(PORT_BASE, 'postfix', () => postfix.log()).expectOutcome;
  const expectOutcome = (policy: PolicyNumber, certificate: IssuedClientCertificate, accepted: boolean): Promise<SmtpResult> =>
    smtpOutcome(policy, { certificate }, accepted);
  const issuerOf = (cert: IssuedClientCertificate): string => new X509Certificate(readFileSync(cert.certFile)).issuer;

  beforeAll(async () => {
    mailca = await E2eMailca.start('rollover');
    files = mailca.pullDirectory('postfix');
    postfix = new PostfixInstance(join(mailca.dir, 'postfix'));
    reload = `${POSTFIX_BIN} -c ${postfix.configDir} reload`;
    const outputs = await Promise.all(MANDATORY.map((policy) => mailca.mtaConfig('postfix', policy, PORT_BASE, files)));
    aliceOld = await mailca.enrol(ALICE.login, 'alice-ca1');
    // The CA bundle by one-shot pulls (smtpd_tls_CAfile is read at smtpd start: reload after a change); the
    // allow-list by the policy service the generated config asks.
    await mailca.pull(files, { via: 'mailca' });
    await mailca.policyService(files, PORT_BASE, { senders: false });
    startPostfixFromCli(postfix, outputs);
  });

  afterAll(async () => {
    postfix?.stop();
    await mailca?.stop();
  });

  it('before the rollover: the certificate of CA 1 is accepted', async () => {
    expect(pemBlocks(files.ca, 'CERTIFICATE')).toBe(1);
    for (const policy of MANDATORY) await expectOutcome(policy, aliceOld, true);
  });

  it('during the rollover: ca.pem holds both CAs and certificates of both are accepted', async () => {
    const { m } = mailca.srv;
    const rotated = await rotateCa(m.store, m.keyring, {
      name: 'mailca client CA 2',
      keyAlgorithm: 'P-256',
      lifetimeDays: 3650,
      clock: m.ctx.clock,
      crossSign: false,
    });
    await m.publisher.publish();
    newCa = rotated.ca;
    if (!rotated.previous) throw new Error('no previous CA');
    oldCa = rotated.previous;

    bobNew = await mailca.enrol(BOB.login, 'bob-ca2');
    expect(issuerOf(aliceOld)).not.toBe(issuerOf(bobNew));
    expect(issuerOf(bobNew)).toContain('mailca client CA 2');

    const pulled = await mailca.pull(files, { then: reload });
    expect(pulled.stdout).toContain('ca.pem (2 certificates)');
    await mailca.policySynced(files, { senders: false });
    expect(pemBlocks(files.ca, 'CERTIFICATE')).toBe(2);
    for (const cert of [aliceOld, bobNew]) {
      const verify = await opensslVerify(files.ca, cert.certFile);
      expect(verify.stdout, verify.stderr).toContain(': OK');
    }
    for (const policy of MANDATORY) {
      await expectOutcome(policy, aliceOld, true);
      await expectOutcome(policy, bobNew, true);
    }
  });

  it('after retiring CA 1 (force): its certificate is refused, the new CA\'s still accepted', async () => {
    const { revoked } = await retireCa(mailca.srv.m.ctx, testActor, { id: oldCa.id, force: true });
    expect(revoked).toEqual([aliceOld.serial]);
    const pulled = await mailca.pull(files, { then: reload });
    expect(pulled.stdout).toContain('ca.pem (1 certificate)');
    await mailca.policySynced(files, { senders: false });
    expect(new X509Certificate(readFileSync(files.ca)).fingerprint256).toBe(new X509Certificate(newCa.certificatePem).fingerprint256);
    expect(readFileSync(files.allowlist, 'utf8')).not.toContain(aliceOld.fingerprintWithColons);

    const verifyOld = await opensslVerify(files.ca, aliceOld.certFile);
    expect(verifyOld.status).not.toBe(0);
    expect((await opensslVerify(files.ca, bobNew.certFile)).stdout).toContain(': OK');

    for (const policy of MANDATORY) {
      const refused = await expectOutcome(policy, aliceOld, false);
      // Refused by the chain check (smtpd_tls_CAfile no longer holds CA 1), before the allow-list is consulted.
      expect(refused.transcript).toMatch(/not trusted/i);
      await expectOutcome(policy, bobNew, true);
    }
  });
});
