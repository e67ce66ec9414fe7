import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MtaConfigOptions, MtaKind, PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { createTestPki, type TestPki } from './certs.ts';
import { EXIM_BIN, writeEximPasswordFile } from './exim-instance.ts';
import { policyPorts, policyServicePort } from './ports.ts';
import { POSTFIX_BIN } from './postfix-instance.ts';
import { PORTAL_URL, PublishedFiles } from './published.ts';
import { ALICE, MAIL_USERS } from './users.ts';

function missingTools(): string[] {
  const missing = [POSTFIX_BIN, EXIM_BIN, '/usr/bin/swaks', '/usr/sbin/saslpasswd2'].filter((file) => !existsSync(file));
  if (process.getuid?.() !== 0) missing.push('root (private Postfix/Exim instances need it)');
  return missing;
}

/**
 * Why the MTA tests cannot run here, or undefined when they can. In CI (CI set) they always run and fail loudly
 * instead: run `.ci/install-mta.sh` first.
 */
export const MTA_SKIP_REASON: string | undefined = (() => {
  const missing = missingTools();
  if (missing.length === 0 || process.env.CI) return undefined;
  const reason = `MTA tests skipped: missing ${missing.join(', ')} (run .ci/install-mta.sh as root)`;
  console.warn(reason);
  return reason;
})();

/** A temp dir with a test PKI, the published files (listed certificate on the allow-list, alice enforced). */
export class MtaTestEnvironment {
  readonly dir: string;
  readonly pki: TestPki;
  readonly published: PublishedFiles;
  readonly eximPasswordFile: string;

  constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `mailca-${name}-`));
    // The servers' unprivileged processes (postfix, Debian-exim) must reach the files in here.
    chmodSync(this.dir, 0o755);
    this.pki = createTestPki(join(this.dir, 'pki'));
    this.published = new PublishedFiles(join(this.dir, 'pki'), this.pki);
    this.published.writeAllowlist([this.pki.listed]);
    this.published.writeEnforcedUsers([ALICE.login]);
    this.published.writeSenders(Object.fromEntries(MAIL_USERS.map((user) => [user.login, [user.login]])));
    this.eximPasswordFile = join(this.dir, 'pki', 'exim-passwords');
    writeEximPasswordFile(this.eximPasswordFile);
  }

  renderOptions(mta: MtaKind, policy: PolicyNumber, portBase: number): MtaConfigOptions {
    return {
      mta,
      policy,
      paths: this.published.paths,
      hostname: 'mx.example.test',
      portalUrl: PORTAL_URL,
      tls: { certFile: this.pki.serverCertFile, keyFile: this.pki.serverKeyFile },
      ports: policyPorts(portBase, policy),
      listenAddress: '127.0.0.1',
      postfixSasl: { type: 'cyrus', path: 'smtpd' },
      eximSasl: { driver: 'lsearch-crypteq', passwordFile: this.eximPasswordFile },
      policyService: `inet:127.0.0.1:${policyServicePort(portBase)}`,
    };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
