import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './net.ts';

/**
 * A private OpenLDAP (Debian slapd) for one test file: its own slapd.conf, database and free port
 * on 127.0.0.1, changed with the real ldap-utils (ldapadd, ldapmodify, ldapdelete).
 */
export interface DirectoryPerson {
  uid: string;
  /** The first is the address; the others become sender aliases. */
  mail: string[];
  password: string;
  cn?: string;
}

export const BASE_DN = 'dc=example,dc=test';
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const ADMIN_GROUP_DN = `cn=mailca-admins,ou=groups,${BASE_DN}`;
export const SEARCH_DN = `cn=mailca,ou=services,${BASE_DN}`;
export const SEARCH_PASSWORD = 'search account secret';
const ROOT_DN = `cn=admin,${BASE_DN}`;
const ROOT_PASSWORD = 'root-secret-for-the-test-directory'; // slapd.conf: no spaces

export const personDn = (uid: string) => `uid=${uid},${PEOPLE_DN}`;

function run(cmd: string, args: string[], input?: string, env?: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
    // A command that fails before reading its input (ldapsearch while slapd starts) closes stdin: EPIPE is no news.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

const personLdif = (p: DirectoryPerson) =>
  [`dn: ${personDn(p.uid)}`, 'objectClass: inetOrgPerson', `uid: ${p.uid}`, `cn: ${p.cn ?? p.uid}`, `sn: ${p.uid}`, ...p.mail.map((m) => `mail: ${m}`), `userPassword: ${p.password}`, ''].join('\n');

/** A CA and a server certificate for 127.0.0.1 (an IP SAN only), made with the openssl CLI. */
function makeTlsFiles(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const f = (n: string) => path.join(dir, n);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=test directory CA']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('server.ext'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext')]);
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

export class TestDirectory {
  /** ldap:// (plain, or StartTLS when started with TLS). */
  readonly url: string;
  /** ldaps://, when started with TLS. */
  readonly ldapsUrl?: string;
  /** The CA that issued the server's certificate, when started with TLS. */
  readonly caFile?: string;
  private readonly toolEnv: Record<string, string>;
  private constructor(
    readonly dir: string,
    readonly port: number,
    tls?: { ldapsPort: number; caFile: string },
  ) {
    this.url = `ldap://127.0.0.1:${port}`;
    this.ldapsUrl = tls && `ldaps://127.0.0.1:${tls.ldapsPort}`;
    this.caFile = tls?.caFile;
    this.toolEnv = tls ? { LDAPTLS_CACERT: tls.caFile, LDAPTLS_REQCERT: 'demand' } : {};
  }

  /** Where the admin tools connect: over TLS when the directory requires it. */
  private get adminUrl(): string {
    return this.ldapsUrl ?? this.url;
  }

  /**
   * Starts slapd with people, the admin group (its members by uid) and the search account. With
   * `tls`, it also listens on ldaps:// and requires TLS for every operation (plain ldap:// then works
   * only after StartTLS).
   */
  static async start(opts: { people: DirectoryPerson[]; admins: string[]; tls?: boolean }): Promise<TestDirectory> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-ldap-'));
    mkdirSync(path.join(dir, 'db'));
    const tls = opts.tls ? makeTlsFiles(dir) : undefined;
    const tlsConfig = tls ? [`TLSCACertificateFile ${tls.caFile}`, `TLSCertificateFile ${tls.certFile}`, `TLSCertificateKeyFile ${tls.keyFile}`, 'security tls=1'] : [];
    writeFileSync(
      path.join(dir, 'slapd.conf'),
      [
        'include /etc/ldap/schema/core.schema',
        'include /etc/ldap/schema/cosine.schema',
        'include /etc/ldap/schema/inetorgperson.schema',
        'include /etc/ldap/schema/misc.schema',
        `pidfile ${dir}/slapd.pid`,
        'modulepath /usr/lib/ldap',
        'moduleload back_mdb',
        // Like many directories: a DN with an empty password is an anonymous bind that succeeds
        // (RFC 4513 5.1.2), so a client that sent one would "verify" any user.
        'allow bind_anon_dn',
        ...tlsConfig,
        'database mdb',
        `suffix "${BASE_DN}"`,
        `rootdn "${ROOT_DN}"`,
        `rootpw ${ROOT_PASSWORD}`,
        `directory ${dir}/db`,
        // Passwords serve only to bind; nothing is readable without binding (so the search account is needed).
        'access to attrs=userPassword by self write by anonymous auth by * none',
        'access to * by users read by * none',
        '',
      ].join('\n'),
    );
    const d = new TestDirectory(dir, await freePort(), tls && { ldapsPort: await freePort(), caFile: tls.caFile });
    await d.startDaemon();
    await d.add(
      [
        [`dn: ${BASE_DN}`, 'objectClass: dcObject', 'objectClass: organization', 'dc: example', 'o: Example', ''].join('\n'),
        [`dn: ${PEOPLE_DN}`, 'objectClass: organizationalUnit', 'ou: people', ''].join('\n'),
        [`dn: ou=groups,${BASE_DN}`, 'objectClass: organizationalUnit', 'ou: groups', ''].join('\n'),
        [`dn: ou=services,${BASE_DN}`, 'objectClass: organizationalUnit', 'ou: services', ''].join('\n'),
        [`dn: ${SEARCH_DN}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', 'cn: mailca', `userPassword: ${SEARCH_PASSWORD}`, ''].join('\n'),
        ...opts.people.map(personLdif),
        // groupOfNames needs a member: the search account stands in when no person is an admin.
        [`dn: ${ADMIN_GROUP_DN}`, 'objectClass: groupOfNames', 'cn: mailca-admins', `member: ${SEARCH_DN}`, ...opts.admins.map((a) => `member: ${personDn(a)}`), ''].join('\n'),
      ].join('\n'),
    );
    return d;
  }

  /** The MAILCA_LDAP_* configuration for this directory. */
  config(): { ldapUrl: string; ldapBindDn: string; ldapBindPassword: string; ldapBaseDn: string; ldapAdminGroup: string } {
    return { ldapUrl: this.url, ldapBindDn: SEARCH_DN, ldapBindPassword: SEARCH_PASSWORD, ldapBaseDn: PEOPLE_DN, ldapAdminGroup: ADMIN_GROUP_DN };
  }

  /** The same as environment variables (for the CLI). */
  env(): Record<string, string> {
    return { MAILCA_SIGN_IN: 'local,ldap', MAILCA_LDAP_URL: this.url, MAILCA_LDAP_BIND_DN: SEARCH_DN, MAILCA_LDAP_BIND_PASSWORD: SEARCH_PASSWORD, MAILCA_LDAP_BASE_DN: PEOPLE_DN, MAILCA_LDAP_ADMIN_GROUP: ADMIN_GROUP_DN };
  }

  async add(ldif: string): Promise<void> {
    await run('ldapadd', ['-x', '-H', this.adminUrl, '-D', ROOT_DN, '-w', ROOT_PASSWORD], ldif, this.toolEnv);
  }
  async addPerson(p: DirectoryPerson): Promise<void> {
    await this.add(personLdif(p));
  }
  async modify(ldif: string): Promise<void> {
    await run('ldapmodify', ['-x', '-H', this.adminUrl, '-D', ROOT_DN, '-w', ROOT_PASSWORD], ldif, this.toolEnv);
  }
  async delete(dn: string): Promise<void> {
    await run('ldapdelete', ['-x', '-H', this.adminUrl, '-D', ROOT_DN, '-w', ROOT_PASSWORD, dn], undefined, this.toolEnv);
  }
  /** True if `password` binds as `dn` (ldapwhoami), the way mailca checks it. */
  async canBind(dn: string, password: string): Promise<boolean> {
    return run('ldapwhoami', ['-x', '-H', this.adminUrl, '-D', dn, '-w', password], undefined, this.toolEnv).then(
      () => true,
      () => false,
    );
  }

  async startDaemon(): Promise<void> {
    const listen = this.ldapsUrl ? `${this.url}/ ${this.ldapsUrl}/` : `${this.url}/`;
    execFileSync('slapd', ['-f', path.join(this.dir, 'slapd.conf'), '-h', listen, '-u', 'root', '-g', 'root']);
    for (let i = 0; i < 100; i++) {
      try {
        await run('ldapsearch', ['-x', '-H', this.adminUrl, '-b', '', '-s', 'base'], undefined, this.toolEnv);
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`slapd did not answer on ${this.url}`);
  }

  /** Stops slapd (the directory keeps its data; startDaemon brings it back). */
  async stopDaemon(): Promise<void> {
    const pidFile = path.join(this.dir, 'slapd.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(pid, 0);
        await sleep(25);
      } catch {
        return;
      }
    }
    process.kill(pid, 'SIGKILL');
  }

  async stop(): Promise<void> {
    await this.stopDaemon();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
