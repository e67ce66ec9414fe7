/**
 * mailca → mailca pull → Dovecot, end to end: a private Dovecot 2.3 runs the fragment `mailca mta-config --mta
 * dovecot` prints and reads only the files the pull client fetched; real IMAP clients (curl imaps:// and openssl
 * s_client) log in with the certificates mailca issued.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Certificate, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/issuance/encoding.ts';
import { signAndWrap } from '../../src/issuance/signed-object.ts';
import { pemToDer } from '../../src/publishers/publish.ts';
import { E2eMailca, MAILCA_CLI, runAsync, type CommandResult, type IssuedClientCertificate, type PullDirectory } from './e2e-harness.ts';
import { DOVECOT_SKIP_REASON, DovecotInstance } from './dovecot-instance.ts';
import { imapsPort } from './ports.ts';
import { ALICE, BOB } from './users.ts';

const PORT_BASE = 22800;
const PORT = imapsPort(PORT_BASE);
/** curl's exit status when the IMAP server refuses the login. */
const CURL_LOGIN_DENIED = 67;

/**
 * Dovecot 2.3 stat()s a passwd-file at most once per second (db-passwd-file.c: passwd_file_sync, keyed on the
 * ioloop's whole seconds) and re-reads it when its mtime or size changed: a change is seen by the first login in a
 * later second than the last lookup. Waits for that second to begin (no time is asserted).
 */
const nextSecond = (): Promise<void> => new Promise((done) => setTimeout(done, 1000 - (Date.now() % 1000) + 20));

describe.skipIf(DOVECOT_SKIP_REASON !== undefined)('mailca → pull → Dovecot (IMAP login with a client certificate)', () => {
  let mailca: E2eMailca;
  let files: PullDirectory;
  let dovecot: DovecotInstance;
  let printed: string;
  let aliceCert: IssuedClientCertificate;
  let bobCert: IssuedClientCertificate;

  /** curl imaps:// LIST of the mailboxes, optionally with a client certificate and SASL mechanism. */
  const imapList = (opts: { certificate?: IssuedClientCertificate; user: string; password: string; mechanism?: string }): Promise<CommandResult> => {
    const args = ['-sS', '--max-time', '20', '--cacert', mailca.pki.caFile, '--user', `${opts.user}:${opts.password}`];
    if (opts.certificate) args.push('--cert', opts.certificate.certFile, '--key', opts.certificate.keyFile);
    if (opts.mechanism) args.push('--login-options', `AUTH=${opts.mechanism}`);
    return runAsync('curl', [...args, `imaps://127.0.0.1:${PORT}/`]);
  };
  const explain = (r: CommandResult): string => `curl exited ${r.status}\n${r.stdout}${r.stderr}\n--- dovecot log ---\n${dovecot.log().split('\n').slice(-15).join('\n')}`;
  const expectMailbox = (r: CommandResult, folder: string): void => {
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain(`"." INBOX`);
    expect(r.stdout, explain(r)).toContain(`"." ${folder}`);
  };
  const expectRefused = (r: CommandResult): void => {
    expect(r.status, explain(r)).toBe(CURL_LOGIN_DENIED);
    expect(r.stdout).toBe('');
  };

  beforeAll(async () => {
    mailca = await E2eMailca.start('dovecot');
    aliceCert = await mailca.enrol(ALICE.login);
    bobCert = await mailca.enrol(BOB.login);
    // alice must use her certificate; bob is in grace and may still log in with his password.
    await mailca.setEnforcement(ALICE.login, 'enforced');
    files = mailca.pullDirectory('dovecot');
    // The site's own password file: both have a password; only the grace user's is accepted.
    const passwords = join(mailca.dir, 'dovecot-users');
    writeFileSync(passwords, `${ALICE.login}:{PLAIN}${ALICE.password}\n${BOB.login}:{PLAIN}${BOB.password}\n`);

    const cli = await runAsync(process.execPath, [
      MAILCA_CLI, 'mta-config', '--mta', 'dovecot', '--files-dir', files.dir,
      '--tls-cert', mailca.pki.serverCertFile, '--tls-key', mailca.pki.serverKeyFile,
      '--port-imaps', String(PORT), '--listen', '127.0.0.1', '--dovecot-passwords', passwords,
    ], { env: mailca.cliEnv() });
    expect(cli.status, cli.stderr).toBe(0);
    printed = cli.stdout;

    const first = await mailca.pull(files, { via: 'mailca' });
    expect(first.stdout).toMatch(/updated ca-crl\.pem \(2 PEM blocks\), allowlist\.dovecot \(2 entries\), enforcement\.dovecot \(1 entry\)/);

    dovecot = new DovecotInstance(join(mailca.dir, 'dovecot'));
    dovecot.writeConfig(printed);
    dovecot.addMailbox(ALICE.login, 'alice-only');
    dovecot.addMailbox(BOB.login, 'bob-only');
    await dovecot.start(PORT);
  });

  afterAll(async () => {
    await dovecot?.stop();
    await mailca?.stop();
  });

  it('prints a configuration doveconf accepts: certificate login by serialNumber, CA and CRLs in ssl_ca', async () => {
    const check = await dovecot.check();
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    for (const line of [
      'ssl = required',
      `ssl_ca = <${files.caCrl}`,
      'ssl_verify_client_cert = yes',
      'auth_ssl_username_from_cert = yes',
      'ssl_cert_username_field = serialNumber',
    ]) {
      expect(check.stdout).toContain(`${line}\n`);
    }
    // Dovecot's default, printed so that the choice is visible (doveconf -n shows only what differs).
    expect(printed).toContain('auth_ssl_require_client_cert = no\n');
    expect(check.stdout).toContain(files.allowlist);
    // The published lines: the certificate's serial (its subject serialNumber) → its owner.
    expect(readFileSync(files.allowlist, 'utf8')).toContain(`${aliceCert.serial}:::::::nopassword=yes user=${ALICE.login}\n`);
    const subject = await runAsync('openssl', ['x509', '-in', aliceCert.certFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(subject.stdout.trim()).toBe(`subject=CN=${ALICE.login},serialNumber=${aliceCert.serial}`);
  });

  it("a listed certificate logs in as its owner and lists the owner's mailbox, whatever user and password are typed", async () => {
    expectMailbox(await imapList({ certificate: aliceCert, user: ALICE.login, password: 'not-her-password' }), 'alice-only');
    expectMailbox(await imapList({ certificate: bobCert, user: BOB.login, password: 'x' }), 'bob-only');
    // The "TLS certificate" setting of mail programs: SASL EXTERNAL, no user name.
    expectMailbox(await imapList({ certificate: aliceCert, user: '', password: '', mechanism: 'EXTERNAL' }), 'alice-only');
    expect(dovecot.log()).toContain(`Login: user=<${ALICE.login}>, method=EXTERNAL`);
  });

  it("one user's certificate never opens another's mailbox", async () => {
    // alice's certificate with bob's address and bob's own password: still alice, in alice's mailbox.
    const r = await imapList({ certificate: aliceCert, user: BOB.login, password: BOB.password });
    expectMailbox(r, 'alice-only');
    expect(r.stdout).not.toContain('bob-only');
    // EXTERNAL asking to be bob (an authorisation identity) is refused.
    expectRefused(await imapList({ certificate: aliceCert, user: BOB.login, password: '', mechanism: 'EXTERNAL' }));
    // Without a certificate, typing a certificate's login name (its serial) opens nothing.
    expectRefused(await imapList({ user: aliceCert.serial, password: 'anything' }));
    expectRefused(await imapList({ user: aliceCert.serial, password: '', mechanism: 'PLAIN' }));
  });

  it('a CA-valid certificate without a serialNumber (the profile before it had one) cannot log in by typing a serial', async () => {
    // Signed by mailca's CA key, subject CN=alice only: Dovecot finds no login name in it and keeps the typed one.
    const unrecorded = await mailca.unrecordedCertificate(ALICE.login);
    const certificate = AsnConvert.parse(pemToDer(readFileSync(unrecorded.certFile, 'utf8')), Certificate);
    const tbs = certificate.tbsCertificate;
    tbs.subject = new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: ALICE.login }) })])]);
    const der = await signAndWrap((await mailca.srv.m.keyring.active()).signer, new Uint8Array(AsnConvert.serialize(tbs)));
    const cnOnly: IssuedClientCertificate = { ...unrecorded, certFile: join(mailca.dir, 'cn-only.pem') };
    writeFileSync(cnOnly.certFile, toPem(der, 'CERTIFICATE'));
    const subject = await runAsync('openssl', ['x509', '-in', cnOnly.certFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(subject.stdout.trim()).toBe(`subject=CN=${ALICE.login}`);
    const verified = await runAsync('openssl', ['verify', '-CAfile', files.caCrl, '-crl_check', '-purpose', 'sslclient', cnOnly.certFile]);
    expect(verified.stdout, verified.stderr).toContain(': OK');

    // bob's certificate is listed under its serial; typing that serial with this certificate opens nothing.
    expectRefused(await imapList({ certificate: cnOnly, user: bobCert.serial, password: 'anything' }));
    expectRefused(await imapList({ certificate: cnOnly, user: bobCert.serial.toUpperCase(), password: 'anything' }));
    expectRefused(await imapList({ certificate: cnOnly, user: '', password: '', mechanism: 'EXTERNAL' }));
  });

  it('password login keeps working for a user in grace; an enforced user needs the certificate', async () => {
    expectMailbox(await imapList({ user: BOB.login, password: BOB.password }), 'bob-only');
    expectRefused(await imapList({ user: BOB.login, password: 'wrong-password' }));
    expectRefused(await imapList({ user: ALICE.login, password: ALICE.password }));
  });

  it('openssl s_client: AUTHENTICATE EXTERNAL with the certificate, then LIST', async () => {
    const transcript = await new Promise<string>((done, fail) => {
      const child = spawn('openssl', ['s_client', '-quiet', '-ign_eof', '-connect', `127.0.0.1:${PORT}`, '-CAfile', mailca.pki.caFile, '-cert', aliceCert.certFile, '-key', aliceCert.keyFile], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => child.kill(), 20_000);
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', fail);
      child.on('exit', () => {
        clearTimeout(timer);
        done(out);
      });
      child.stdin.end('a AUTHENTICATE EXTERNAL =\r\nb LIST "" "*"\r\nc LOGOUT\r\n');
    });
    expect(transcript).toMatch(/^a OK .*Logged in/m);
    expect(transcript).toContain('"." alice-only');
    expect(transcript).toMatch(/^c OK Logout/m);
  });

  it('a revoked certificate is refused at the next login after the pull, with no Dovecot reload', async () => {
    const master = dovecot.masterPid();
    expectMailbox(await imapList({ certificate: aliceCert, user: ALICE.login, password: 'x' }), 'alice-only');
    await mailca.revoke(aliceCert.serial);
    await mailca.untilCrlLists(aliceCert.serial);
    const pulled = await mailca.pull(files);
    expect(pulled.stdout).toMatch(/allowlist\.dovecot \(1 entry\)/);
    expect(readFileSync(files.allowlist, 'utf8')).not.toContain(aliceCert.serial);

    await nextSecond();
    expectRefused(await imapList({ certificate: aliceCert, user: ALICE.login, password: 'x' }));
    expectRefused(await imapList({ certificate: aliceCert, user: '', password: '', mechanism: 'EXTERNAL' }));
    // bob's certificate is unaffected; Dovecot was neither restarted nor reloaded.
    expectMailbox(await imapList({ certificate: bobCert, user: BOB.login, password: 'x' }), 'bob-only');
    expect(dovecot.masterPid()).toBe(master);
    expect(dovecot.log()).not.toContain('SIGHUP');
  });

  it('after `doveadm reload` Dovecot checks the new CRL: the revoked certificate no longer even yields a login name', async () => {
    // Put the revoked certificate's line back by hand: only the CRL (in ssl_ca, read at reload) refuses it now.
    writeFileSync(files.allowlist, `${readFileSync(files.allowlist, 'utf8')}${aliceCert.serial}:::::::nopassword=yes user=${ALICE.login}\n`);
    await nextSecond();
    expectMailbox(await imapList({ certificate: aliceCert, user: ALICE.login, password: 'x' }), 'alice-only');
    const reload = await runAsync('/usr/bin/doveadm', ['-c', dovecot.configFile, 'reload']);
    expect(reload.status, reload.stderr).toBe(0);
    let r: CommandResult;
    const started = performance.now();
    // The reload is asynchronous: new logins use the new configuration once the login processes restarted.
    do r = await imapList({ certificate: aliceCert, user: ALICE.login, password: 'x' });
    while (r.status === 0 && performance.now() - started < 10_000);
    expectRefused(r);
    expectMailbox(await imapList({ certificate: bobCert, user: BOB.login, password: 'x' }), 'bob-only');
  });
});
