import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RenderedPostfixConfig } from '../../src/publishers/mta-config/index.ts';
import { run, runOk, type RunResult } from './run.ts';
import { MAIL_USERS } from './users.ts';

export const POSTFIX_BIN = '/usr/sbin/postfix';

/** The internal services a private instance needs; chroot off, mail ends in `discard`. */
const BASE_MASTER_CF = `
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
`.trimStart();

function testMainCf(dir: string): string {
  return [
    '# test-only settings of a private instance: loopback only, every message discarded',
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'myhostname = mx.example.test',
    'mydomain = example.test',
    'mydestination =',
    'default_transport = discard:mailca-test',
    'relay_transport = discard:mailca-test',
    'local_transport = discard:mailca-test',
    'virtual_transport = discard:mailca-test',
    'alias_maps =',
    'alias_database =',
    `maillog_file = ${join(dir, 'maillog')}`,
    `maillog_file_prefixes = ${dir}`,
    // Debian's Postfix looks for smtpd.conf in $config_directory/sasl whatever this says; keep both in agreement.
    `cyrus_sasl_config_path = ${join(dir, 'conf', 'sasl')}`,
    'smtpd_tls_loglevel = 1',
    '',
  ].join('\n');
}

/** Cyrus SASL with an sasldb of the test users (auxprop); smtpd reads conf/sasl/smtpd.conf (smtpd_sasl_path = smtpd). */
function writeSaslDatabase(dir: string): void {
  const saslDir = join(dir, 'conf', 'sasl');
  mkdirSync(saslDir, { recursive: true, mode: 0o755 });
  const database = join(saslDir, 'sasldb2');
  for (const user of MAIL_USERS) {
    const [name, realm] = user.login.split('@') as [string, string];
    runOk('saslpasswd2', ['-c', '-p', '-f', database, '-u', realm, name], { input: user.password });
  }
  chmodSync(database, 0o644);
  writeFileSync(
    join(saslDir, 'smtpd.conf'),
    ['pwcheck_method: auxprop', 'auxprop_plugin: sasldb', `sasldb_path: ${database}`, 'mech_list: PLAIN LOGIN', ''].join('\n'),
  );
}

/** A private Postfix in `dir` (config in dir/conf) built from generated configs plus test-only settings. */
export class PostfixInstance {
  readonly configDir: string;

  constructor(readonly dir: string) {
    this.configDir = join(dir, 'conf');
  }

  /** Writes main.cf and master.cf; several rendered policies may share one instance (distinct ports). */
  writeConfig(rendered: readonly RenderedPostfixConfig[]): void {
    mkdirSync(this.configDir, { recursive: true, mode: 0o755 });
    for (const sub of ['queue', 'data']) mkdirSync(join(this.dir, sub), { recursive: true, mode: 0o755 });
    runOk('chown', ['postfix:postfix', join(this.dir, 'data')]);
    chmodSync(this.dir, 0o755);
    writeSaslDatabase(this.dir);
    writeFileSync(join(this.configDir, 'main.cf'), testMainCf(this.dir) + rendered.map((r) => r.mainCf).join('\n'));
    writeFileSync(join(this.configDir, 'master.cf'), BASE_MASTER_CF + rendered.map((r) => r.masterCf).join('\n'));
  }

  check(): RunResult {
    return run(POSTFIX_BIN, ['-c', this.configDir, 'check']);
  }

  start(): void {
    this.runPostfix('start');
  }

  /** Re-reads main.cf/master.cf and texthash maps; the next connection sees them. */
  reload(): void {
    this.runPostfix('reload');
  }

  /** The postfix command reports errors only to a terminal or the log, so failures quote the log. */
  private runPostfix(command: 'start' | 'reload'): void {
    const result = run(POSTFIX_BIN, ['-c', this.configDir, command]);
    if (result.status !== 0) throw new Error(`postfix ${command} exited ${result.status}\n${result.stderr}\n${this.log()}`);
  }

  stop(): void {
    if (existsSync(join(this.dir, 'queue', 'pid', 'master.pid'))) run(POSTFIX_BIN, ['-c', this.configDir, 'stop']);
  }

  log(): string {
    const file = join(this.dir, 'maillog');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }
}

/**
 * `postfix check` passed without complaints, in its output or the instance's log, and `postconf -n` reports no
 * unused (misspelt) parameters.
 */
export function expectCleanPostfixCheck(postfix: PostfixInstance, check: { status: number | null; stdout: string; stderr: string }): void {
  expect(check.status, `${check.stdout}${check.stderr}${postfix.log()}`).toBe(0);
  expect(check.stderr).not.toMatch(/warning|error|fatal/i);
  expect(postfix.log()).not.toMatch(/warning|error|fatal/i);
  // postconf reports unused (misspelt) parameters on stderr.
  const postconf = run('postconf', ['-c', postfix.configDir, '-n']);
  expect(postconf.status).toBe(0);
  expect(postconf.stderr).toBe('');
}
