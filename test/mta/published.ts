import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PublishedPaths } from '../../src/publishers/mta-config/index.ts';
import type { ClientCertificate, TestPki } from './certs.ts';

export const PORTAL_URL = 'https://portal.example/';

function writeReadable(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o644);
}

/** A listed certificate and the addresses it may send as (owner first); default: just the owner. */
export interface ListedCertificate {
  certificate: ClientCertificate;
  senders?: readonly string[];
}

const asListed = (c: ClientCertificate | ListedCertificate): ListedCertificate => ('certificate' in c ? c : { certificate: c });

/** Writes the published files in the formats mailca's publishers use (the contract in FACTS.md and the README). */
export class PublishedFiles {
  readonly paths: PublishedPaths;
  private listed: ListedCertificate[] = [];
  private enforced: string[] = [];

  constructor(dir: string, private readonly pki: TestPki) {
    this.paths = {
      postfixAllowlist: join(dir, 'postfix-allowlist'),
      eximAllowlist: join(dir, 'exim-allowlist'),
      caBundle: join(dir, 'ca-bundle.pem'),
      crlPem: join(dir, 'crl.pem'),
      postfixEnforcement: join(dir, 'postfix-enforcement'),
      eximEnforcement: join(dir, 'exim-enforcement'),
      jsonAllowlist: join(dir, 'allowlist.json'),
      postfixSenders: join(dir, 'senders.postfix'),
      eximSenders: join(dir, 'senders.exim'),
      dovecotAllowlist: join(dir, 'allowlist.dovecot'),
      dovecotEnforcement: join(dir, 'enforcement.dovecot'),
      caCrl: join(dir, 'ca-crl.pem'),
    };
    copyFileSync(pki.caFile, this.paths.caBundle);
    chmodSync(this.paths.caBundle, 0o644);
    this.refreshCrl();
  }

  writeAllowlist(certificates: readonly (ClientCertificate | ListedCertificate)[]): void {
    this.listed = certificates.map(asListed);
    writeReadable(
      this.paths.postfixAllowlist,
      this.listed.map(({ certificate: c }, i) => `# ${c.email} serial ${(0x2001 + i).toString(16)}\n${c.fingerprintWithColons} OK\n`).join(''),
    );
    writeReadable(
      this.paths.eximAllowlist,
      this.listed.map(({ certificate: c, senders }) => `${c.fingerprintHex}: ${(senders ?? [c.email]).join(' : ')}\n`).join(''),
    );
    this.writeJson();
  }

  writeEnforcedUsers(logins: readonly string[]): void {
    this.enforced = [...logins];
    writeReadable(
      this.paths.postfixEnforcement,
      logins.map((login) => `${login} REJECT 5.7.1 client certificate required - enrol at ${PORTAL_URL}\n`).join(''),
    );
    writeReadable(this.paths.eximEnforcement, logins.map((login) => `${login}: enforced\n`).join(''));
    this.writeJson();
  }

  /** senders.postfix (smtpd_sender_login_maps): `sender login` for each login's addresses; senders.exim: `login: a : b`. */
  writeSenders(byLogin: Readonly<Record<string, readonly string[]>>): void {
    writeReadable(
      this.paths.postfixSenders,
      Object.entries(byLogin)
        .flatMap(([login, senders]) => senders.map((sender) => `${sender} ${login}\n`))
        .join(''),
    );
    writeReadable(
      this.paths.eximSenders,
      Object.entries(byLogin)
        .map(([login, senders]) => `${login}: ${senders.join(' : ')}\n`)
        .join(''),
    );
  }

  /** The JSON allow-list (GET /api/v1/allowlist?format=json) for the current state. */
  jsonText(): string {
    const certificates = this.listed.map(({ certificate: c, senders }, i) => ({
      serial: (0x2001 + i).toString(16),
      fingerprint_sha256: c.fingerprintWithColons,
      fingerprint_sha256_hex: c.fingerprintHex.toLowerCase(),
      address: c.email,
      owner: c.email,
      senders: [...(senders ?? [c.email])],
      subject: `CN=${c.email},serialNumber=${(0x2001 + i).toString(16)}`,
      not_after: '2099-01-01T00:00:00.000Z',
      status: 'active',
      migration: this.enforced.includes(c.email) ? 'enforced' : 'grace',
    }));
    return JSON.stringify({ certificates, enforced_users: this.enforced, portal_url: PORTAL_URL }, null, 2) + '\n';
  }

  private writeJson(): void {
    writeReadable(this.paths.jsonAllowlist, this.jsonText());
  }

  /** Copies the test CA's current CRL to the published CRL file. */
  refreshCrl(): void {
    copyFileSync(this.pki.crlFile, this.paths.crlPem);
    chmodSync(this.paths.crlPem, 0o644);
  }
}
