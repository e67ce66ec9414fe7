/**
 * A private Postfix instance (loopback only, every message discarded, spool and log in its own dir) built from
 * generated configs. Free of the test framework: the MTA tests (postfix-instance.ts) and the bench (bench/lib/mta.ts)
 * both run it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderedPostfixConfig } from '../../src/publishers/mta-config/index.ts';
import { run, runOk, type RunResult } from './run.ts';

export const POSTFIX_BIN = '/usr/sbin/postfix';
export const SASLPASSWD2 = '/usr/sbin/saslpasswd2';

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

export interface PrivatePostfixOptions {
  /** Who runs the instance: names its settings in main.cf and its discard transport (discard:mailca-test). */
  purpose: 'test' | 'bench';
  /** The logins (user@realm) and passwords in the instance's Cyrus sasldb. */
  saslUsers: readonly { login: string; password: string }[];
  /** main.cf lines after the private settings, before the generated ones. */
  extraMainCf?: readonly string[];
}

function privateMainCf(dir: string, options: PrivatePostfixOptions): string {
  const transport = `discard:mailca-${options.purpose}`;
  return [
    `# ${options.purpose}-only settings of a private instance: loopback only, every message discarded`,
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'myhostname = mx.example.test',
    'mydomain = example.test',
    'mydestination =',
    `default_transport = ${transport}`,
    `relay_transport = ${transport}`,
    `local_transport = ${transport}`,
    `virtual_transport = ${transport}`,
    'alias_maps =',
    'alias_database =',
    `maillog_file = ${join(dir, 'maillog')}`,
    `maillog_file_prefixes = ${dir}`,
    // Debian's Postfix looks for smtpd.conf in $config_directory/sasl whatever this says; keep both in agreement.
    `cyrus_sasl_config_path = ${join(dir, 'conf', 'sasl')}`,
    ...(options.extraMainCf ?? []),
    '',
  ].join('\n');
}

/** Cyrus SASL with an sasldb of `users` (auxprop); smtpd reads conf/sasl/smtpd.conf (smtpd_sasl_path = smtpd). */
function writeSaslDatabase(dir: string, users: PrivatePostfixOptions['saslUsers']): void {
  const saslDir = join(dir, 'conf', 'sasl');
  mkdirSync(saslDir, { recursive: true, mode: 0o755 });
  const database = join(saslDir, 'sasldb2');
  for (const user of users) {
    const [name, realm] = user.login.split('@') as [string, string];
    runOk(SASLPASSWD2, ['-c', '-p', '-f', database, '-u', realm, name], { input: user.password });
  }
  chmodSync(database, 0o644);
  writeFileSync(
    join(saslDir, 'smtpd.conf'),
    ['pwcheck_method: auxprop', 'auxprop_plugin: sasldb', `sasldb_path: ${database}`, 'mech_list: PLAIN LOGIN', ''].join('\n'),
  );
}

/** A private Postfix in `dir` (config in dir/conf) built from generated configs plus the private settings. */
export class PrivatePostfix {
  readonly configDir: string;

  constructor(
    readonly dir: string,
    private readonly options: PrivatePostfixOptions,
  ) {
    this.configDir = join(dir, 'conf');
  }

  /** Writes main.cf and master.cf; several rendered policies may share one instance (distinct ports). */
  writeConfig(rendered: readonly Pick<RenderedPostfixConfig, 'mainCf' | 'masterCf'>[]): void {
    mkdirSync(this.configDir, { recursive: true, mode: 0o755 });
    for (const sub of ['queue', 'data']) mkdirSync(join(this.dir, sub), { recursive: true, mode: 0o755 });
    runOk('chown', ['postfix:postfix', join(this.dir, 'data')]);
    chmodSync(this.dir, 0o755);
    writeSaslDatabase(this.dir, this.options.saslUsers);
    writeFileSync(join(this.configDir, 'main.cf'), privateMainCf(this.dir, this.options) + rendered.map((r) => r.mainCf).join('\n'));
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

  /** How many times this instance was reloaded (its log says "reload"). */
  reloads(): number {
    return (this.log().match(/reload/g) ?? []).length;
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
