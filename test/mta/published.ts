import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublishedPaths } from '../../src/publishers/mta-config/index.ts';
import type { ClientCertificate, TestPki } from './certs.ts';

export const PORTAL_URL = 'https://portal.example/';

function writeReadable(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o644);
}

/** Writes the published files in the formats mailca's publishers use (the contract in FACTS.md). */
export class PublishedFiles {
  readonly paths: PublishedPaths;

  constructor(dir: string, private readonly pki: TestPki) {
    this.paths = {
      postfixAllowlist: join(dir, 'postfix-allowlist'),
      eximAllowlist: join(dir, 'exim-allowlist'),
      caBundle: join(dir, 'ca-bundle.pem'),
      crlPem: join(dir, 'crl.pem'),
      postfixEnforcement: join(dir, 'postfix-enforcement'),
      eximEnforcement: join(dir, 'exim-enforcement'),
    };
    copyFileSync(pki.caFile, this.paths.caBundle);
    chmodSync(this.paths.caBundle, 0o644);
    this.refreshCrl();
  }

  writeAllowlist(certificates: readonly ClientCertificate[]): void {
    writeReadable(
      this.paths.postfixAllowlist,
      certificates.map((c, i) => `# ${c.email} serial ${(0x2001 + i).toString(16)}\n${c.fingerprintWithColons} OK\n`).join(''),
    );
    writeReadable(this.paths.eximAllowlist, certificates.map((c) => `${c.fingerprintHex}: ${c.email}\n`).join(''));
  }

  writeEnforcedUsers(logins: readonly string[]): void {
    writeReadable(
      this.paths.postfixEnforcement,
      logins.map((login) => `${login} REJECT 5.7.1 client certificate required - enrol at ${PORTAL_URL}\n`).join(''),
    );
    writeReadable(this.paths.eximEnforcement, logins.map((login) => `${login}: enforced\n`).join(''));
  }

  /** Copies the test CA's current CRL to the published CRL file. */
  refreshCrl(): void {
    copyFileSync(this.pki.crlFile, this.paths.crlPem);
    chmodSync(this.paths.crlPem, 0o644);
  }
}
