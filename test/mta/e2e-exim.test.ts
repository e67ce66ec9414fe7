/**
 * mailca → mailca pull → Exim, end to end: one Exim daemon per policy (the TLS verification options are global)
 * runs the configuration `mailca mta-config` prints and reads only the files the pull client fetched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { POLICIES } from '../../src/publishers/mta-config/index.ts';
import {
  describeCertificatePolicies,
  itBindsPasswordUsersToTheirSenders,
  itRefusesEnforcedUserAfterGrace,
  E2eMailca,
  eximFromCli,
  listener,
  repeatUntil,
  runAsync,
  sleep,
  smtpOutcomes,
  waitListening,
  watchUpdateTime,
  type IssuedClientCertificate,
  type PullDirectory,
} from './e2e-harness.ts';
import { MTA_SKIP_REASON } from './environment.ts';
import { EximInstance } from './exim-instance.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 22200;
const CERTIFICATE_POLICIES: readonly PolicyNumber[] = [2, 3, 5, 7, 8];
/** No client certificates: a password alone sends, bound to the login's senders (senders.exim). */
const PASSWORD_POLICIES: readonly PolicyNumber[] = [1, 4, 6];
const ALL_POLICIES: readonly PolicyNumber[] = [...CERTIFICATE_POLICIES, ...PASSWORD_POLICIES];
/**
 * swaks exit codes of a refusal by the server: MAIL, RCPT, DATA, AUTH refused (23, 24, 25, 28), TLS failed (29), or
 * 6, "remote host closed connection unexpectedly": how Exim's tls_verify_hosts ends a session whose client
 * certificate did not verify (the log says "TLS error … certificate verification failed"). Not 2 (connection
 * refused), which is a daemon re-executing after SIGHUP.
 */
const SMTP_REFUSAL = new Set([6, 23, 24, 25, 28, 29]);

describe.skipIf(MTA_SKIP_REASON !== undefined)('mailca → pull → Exim (generated config, pulled files)', () => {
  let mailca: E2eMailca;
  let files: PullDirectory;
  const daemons = new Map<PolicyNumber, EximInstance>();
  /** SIGHUP to every daemon: they re-exec and re-read the CA bundle and the CRL. */
  let hangUp: string;
  let aliceCert: IssuedClientCertificate;
  let bobCert: IssuedClientCertificate;

  const { on, explain, expectOutcome } = smtpOutcomes(PORT_BASE, 'exim', (policy) => daemons.get(policy)?.log() ?? '', (policy, r) =>
    expect(SMTP_REFUSAL.has(r.exitCode), `a refusal, not a connection problem\n${explain(policy, r)}`).toBe(true),
  );
  /** After a SIGHUP the daemons close their sockets, re-exec and listen again. */
  const daemonsListening = () => Promise.all(ALL_POLICIES.map((policy) => waitListening(listener(PORT_BASE, policy).port)));
  /** One-shot pull; --then sends the daemons SIGHUP when a file changed (for the CRL; lsearch is read per connection). */
  const pull = async () => {
    const r = await mailca.pull(files, { then: hangUp });
    await daemonsListening();
    return r;
  };

  beforeAll(async () => {
    mailca = await E2eMailca.start('exim');
    aliceCert = await mailca.enrol(ALICE.login);
    bobCert = await mailca.enrol(BOB.login);
    files = mailca.pullDirectory('exim');
    const outputs = await Promise.all(ALL_POLICIES.map((policy) => mailca.mtaConfig('exim', policy, PORT_BASE, files)));
    const first = await mailca.pull(files, { via: 'mailca' });
    expect(first.stdout).toMatch(/updated .*allowlist\.exim \(2 entries\)/);
    for (const [i, policy] of ALL_POLICIES.entries()) {
      const instance = new EximInstance(join(mailca.dir, `exim-p${policy}`));
      instance.writeConfig(eximFromCli(outputs[i] ?? ''));
      const check = instance.check();
      expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
      daemons.set(policy, instance);
      await instance.start();
    }
    hangUp = `kill -HUP ${[...daemons.values()].map((d) => `$(cat ${d.pidFile})`).join(' ')}`;
  });

  afterAll(async () => {
    for (const instance of daemons.values()) instance.stop();
    await mailca?.stop();
  });

  it('Exim runs the CLI output, which points at the pulled files', () => {
    for (const [policy, instance] of daemons) {
      const conf = readFileSync(instance.configFile, 'utf8');
      expect(conf).toContain(`MAILCA_ALLOWLIST = ${files.allowlist}`);
      expect(conf).toContain(`MAILCA_SENDERS = ${files.senderLogins}`);
      // A password alone sends (no or optional certificates): bound to the login's senders.
      if (certificateMode(policy) !== 'mandatory') expect(conf).toContain('lsearch,cache=no_rd{MAILCA_SENDERS}');
      if (certificateMode(policy) === 'none') {
        expect(conf).not.toContain('tls_verify_certificates');
      } else {
        expect(conf).toContain(`tls_verify_certificates = ${files.ca}`);
        expect(conf).toContain(`tls_crl = ${files.crl}`);
      }
    }
  });

  // Per policy: enrolled certificates accepted; an unlisted one, another CA's, or nothing refused; a password alone
  // accepted only where certificates are optional (e2e-harness.ts).
  describeCertificatePolicies(CERTIFICATE_POLICIES, () => ({ mailca, files, aliceCert, bobCert, expectOutcome }), {
    // Verified by Exim (so the allow-list, not the chain, refused it) and refused at RCPT.
    unrecordedRefused: (policy, refused) => expect(refused.exitCode, explain(policy, refused)).toBe(24),
  });

  itRefusesEnforcedUserAfterGrace(CERTIFICATE_POLICIES, () => ({ mailca, files, aliceCert, bobCert, expectOutcome, pull, explain }), {
    enforcedPulled: () => expect(readFileSync(files.enforcement, 'utf8')).toContain(`${ALICE.login}: enforced`),
  });

  it('a grace user with a password sends as their own address and alias only (senders.exim from the pull), whatever the policy', async () => {
    const alias = 'bobby@example.test';
    await mailca.addAlias(BOB.login, alias);
    await mailca.setEnforcement(BOB.login, 'grace');
    const pulled = await pull();
    expect(pulled.stdout).toContain('senders.exim');
    expect(readFileSync(files.senderLogins!, 'utf8')).toContain(`${BOB.login}: ${BOB.login} : ${alias}\n`);
    const optional = CERTIFICATE_POLICIES.filter((p) => certificateMode(p) === 'optional');
    expect(optional.length).toBeGreaterThan(0);
    for (const policy of optional) {
      await expectOutcome(policy, { auth: BOB, from: BOB.login }, true);
      await expectOutcome(policy, { auth: BOB, from: alias }, true);
      const other = await expectOutcome(policy, { auth: BOB, from: ALICE.login }, false);
      expect(other.transcript, explain(policy, other)).toContain(`<${ALICE.login}>: not owned by user ${BOB.login}`);
      // The certificate path binds its owner the same way; the null sender (bounces) stays allowed.
      await expectOutcome(policy, { certificate: bobCert, from: alias }, true);
      await expectOutcome(policy, { auth: BOB, from: '<>' }, true);
    }
    // Mandatory certificates: a password alone never sends, whatever the address.
    for (const policy of CERTIFICATE_POLICIES.filter((p) => certificateMode(p) === 'mandatory')) await expectOutcome(policy, { auth: BOB, from: BOB.login }, false);
  });

  // No client certificates: the same binding of password users, from the same senders.exim.
  itBindsPasswordUsersToTheirSenders(PASSWORD_POLICIES, () => ({ mailca, expectOutcome, explain, pull }), (sender, login) => `550 5.7.1 <${sender}>: not owned by user ${login}`);

  it('tls_crl alone refuses a revoked certificate that a stale allow-list still lists (after SIGHUP)', async () => {
    const laptop = await mailca.enrol(ALICE.login, 'alice-laptop');
    await pull();
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: laptop }, true);
    const crlBefore = readFileSync(files.crl, 'utf8');

    await mailca.revoke(laptop.serial);
    await mailca.untilCrlLists(laptop.serial);
    // Pull the CRL into the directory Exim reads, but send the allow-list (and the rest) elsewhere: Exim's copy
    // of the allow-list stays stale and still lists the revoked certificate.
    const elsewhere = mailca.pullDirectory('exim', 'scratch');
    await mailca.pull(files, { only: { allowlist: elsewhere.allowlist, enforcement: elsewhere.enforcement, ca: elsewhere.ca } });
    expect(readFileSync(files.allowlist, 'utf8')).toContain(laptop.fingerprintHex);
    expect(readFileSync(elsewhere.allowlist, 'utf8')).not.toContain(laptop.fingerprintHex);
    const crlAfter = readFileSync(files.crl, 'utf8');
    expect(crlAfter).not.toBe(crlBefore);
    const crlText = await runAsync('openssl', ['crl', '-in', files.crl, '-noout', '-text']);
    expect(crlText.stdout.toUpperCase()).toContain(`SERIAL NUMBER: ${laptop.serial.toUpperCase()}`);

    // Exim reads the CRL at start (4.96 may also reload it by itself a little after the file changed, so
    // whether the revoked certificate still gets through until then is Exim's timing); SIGHUP makes sure.
    const hup = await runAsync('/bin/sh', ['-c', hangUp]);
    expect(hup.status, hup.stderr).toBe(0);
    await daemonsListening();

    expect(readFileSync(files.allowlist, 'utf8')).toContain(laptop.fingerprintHex);
    for (const policy of CERTIFICATE_POLICIES) {
      const refused = await expectOutcome(policy, { certificate: laptop }, false);
      // Mandatory: the handshake is refused. Optional: the certificate is unverified, so the listed fingerprint does
      // not count and the session falls through to "authentication … required" (not the unlisted-certificate path).
      if (certificateMode(policy) === 'mandatory') expect(refused.exitCode, explain(policy, refused)).toBe(6);
      else expect(refused.transcript, explain(policy, refused)).toContain('authentication or a client certificate required');
    }
    // Exim says why: the certificate did not verify (tls_verify_hosts refuses the handshake, tls_try_verify_hosts
    // leaves it unverified and the ACL does not accept it).
    expect(daemons.get(8)?.log()).toMatch(/revoked/i);
    // Unrevoked certificates of the same CA still verify.
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: aliceCert }, true);
    await pull();
    expect(readFileSync(files.allowlist, 'utf8')).not.toContain(laptop.fingerprintHex);
  });

  it('a certificate revoked through the API is refused once the watching pull client has updated the files (time measured)', async () => {
    const phone = await mailca.enrol(BOB.login, 'bob-phone');
    await pull();
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: phone }, true);

    const watch = await mailca.watch(files, hangUp);
    await sleep(1200);
    await mailca.revoke(phone.serial);
    const revokedAt = performance.now();
    const revokedWall = Date.now();
    const { ms, attempts, result, history } = await repeatUntil(() => on(8, { certificate: phone }), (r) => SMTP_REFUSAL.has(r.exitCode), revokedAt);
    const pulledAt = await (async () => {
      for (let i = 0; i < 100; i += 1) {
        try {
          return watchUpdateTime(watch.output(), 'allowlist.exim');
        } catch {
          await sleep(50);
        }
      }
      return watchUpdateTime(watch.output(), 'allowlist.exim');
    })();
    await watch.stop();
    console.log(
      `[e2e] Exim: revoke response → first refused SMTP attempt: ${ms.toFixed(0)} ms ` +
        `(pull client --watch wrote the files and sent SIGHUP ${pulledAt - revokedWall} ms after the response; ` +
        `${attempts} attempts, swaks exit codes ${history.join(',')})`,
    );
    expect(result.transcript).toMatch(/enrol at|certificate|TLS/i);
    await daemonsListening();
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: phone }, false);
    for (const policy of CERTIFICATE_POLICIES) await expectOutcome(policy, { certificate: bobCert }, true);
  });
});

function certificateMode(policy: PolicyNumber) {
  return POLICIES[policy].clientCertificates;
}
