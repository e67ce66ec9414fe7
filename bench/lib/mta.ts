// Bench-only: private Postfix and Exim instances run from the configuration `mailca mta-config` prints, with
// test-only settings added (loopback, every message discarded, spool and logs in a temp dir). The minimum of
// test/mta/postfix-instance.ts and exim-instance.ts that a running instance needs, without the test framework.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';

export const POSTFIX_BIN = '/usr/sbin/postfix';
export const EXIM_BIN = '/opt/mailca-exim/usr/sbin/exim4';
const EXIM_USER = 'Debian-exim';
const SASLPASSWD2 = '/usr/sbin/saslpasswd2';

function runOk(command: string, args: readonly string[], input?: string): string {
  const r = spawnSync(command, args, { encoding: 'utf8', input, timeout: 60_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${path.basename(command)} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

/** Why private MTA instances cannot run here, or undefined. */
const BINARIES: Record<'postfix' | 'exim', readonly string[]> = { postfix: [POSTFIX_BIN, SASLPASSWD2], exim: [EXIM_BIN] };

export function mtaUnavailable(mta: keyof typeof BINARIES): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run a private MTA instance';
  const bins = BINARIES[mta];
  const missing = bins.filter((b) => !existsSync(b));
  return missing.length ? `${missing.join(', ')} not installed (.ci/install-mta.sh)` : undefined;
}

/** Splits `mailca mta-config --mta postfix` output at its "# ---- main.cf ----" / "# ---- master.cf ----" markers. */
function postfixSections(output: string): { mainCf: string; masterCf: string } {
  const main = output.indexOf('# ---- main.cf ----');
  const master = output.indexOf('# ---- master.cf ----');
  if (main < 0 || master < main) throw new Error('mailca mta-config --mta postfix printed no main.cf/master.cf sections');
  return { mainCf: output.slice(main, master), masterCf: output.slice(master) };
}

/** The internal services a private instance needs; chroot off, mail ends in `discard`. */
const POSTFIX_BASE_MASTER_CF = `
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

/** A private Postfix in `dir` (config in dir/conf) running one generated policy. */
export class PostfixInstance {
  readonly configDir: string;

  constructor(readonly dir: string) {
    this.configDir = path.join(dir, 'conf');
  }

  /**
   * main.cf/master.cf from the CLI output plus test-only settings; the generated `--postfix-sasl cyrus:smtpd` gets a
   * Cyrus sasldb with one user (nobody authenticates in the bench, but smtpd needs a working SASL backend).
   */
  start(mtaConfigOutput: string): void {
    const { mainCf, masterCf } = postfixSections(mtaConfigOutput);
    for (const sub of ['conf/sasl', 'queue', 'data']) mkdirSync(path.join(this.dir, sub), { recursive: true, mode: 0o755 });
    runOk('chown', ['postfix:postfix', path.join(this.dir, 'data')]);
    chmodSync(this.dir, 0o755);
    const saslDir = path.join(this.configDir, 'sasl');
    const sasldb = path.join(saslDir, 'sasldb2');
    runOk(SASLPASSWD2, ['-c', '-p', '-f', sasldb, '-u', 'example.test', 'bench'], 'bench password');
    chmodSync(sasldb, 0o644);
    writeFileSync(path.join(saslDir, 'smtpd.conf'), ['pwcheck_method: auxprop', 'auxprop_plugin: sasldb', `sasldb_path: ${sasldb}`, 'mech_list: PLAIN LOGIN', ''].join('\n'));
    const benchMain = [
      '# bench-only settings of a private instance: loopback only, every message discarded',
      'compatibility_level = 3.6',
      `queue_directory = ${path.join(this.dir, 'queue')}`,
      `data_directory = ${path.join(this.dir, 'data')}`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = mx.example.test',
      'mydomain = example.test',
      'mydestination =',
      'default_transport = discard:mailca-bench',
      'relay_transport = discard:mailca-bench',
      'local_transport = discard:mailca-bench',
      'virtual_transport = discard:mailca-bench',
      'alias_maps =',
      'alias_database =',
      `maillog_file = ${path.join(this.dir, 'maillog')}`,
      `maillog_file_prefixes = ${this.dir}`,
      `cyrus_sasl_config_path = ${saslDir}`,
      '',
    ].join('\n');
    writeFileSync(path.join(this.configDir, 'main.cf'), benchMain + mainCf);
    writeFileSync(path.join(this.configDir, 'master.cf'), POSTFIX_BASE_MASTER_CF + masterCf);
    const r = spawnSync(POSTFIX_BIN, ['-c', this.configDir, 'start'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`postfix start exited ${r.status}: ${this.log().trim().split('\n').slice(-2).join(' | ')}`);
  }

  /** How many times this instance was reloaded (its log says "reload"). */
  reloads(): number {
    return (this.log().match(/reload/g) ?? []).length;
  }

  stop(): void {
    if (existsSync(path.join(this.dir, 'queue', 'pid', 'master.pid'))) spawnSync(POSTFIX_BIN, ['-c', this.configDir, 'stop'], { timeout: 60_000 });
  }

  log(): string {
    const file = path.join(this.dir, 'maillog');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }
}

/** `login: CRYPT-HASH` for the generated lsearch-crypteq authenticators (nobody authenticates in the bench). */
export function writeEximPasswordFile(file: string): void {
  const hash = runOk('openssl', ['passwd', '-6', '-salt', 'mailcabench', 'bench password']).trim();
  writeFileSync(file, `bench@example.test: ${hash}\n`);
  chmodSync(file, 0o644);
}

/** Every accepted message is thrown away: mail never leaves the machine. */
const EXIM_BENCH_ROUTING = ['begin routers', '', 'blackhole:', '  driver = redirect', '  data = :blackhole:', ''].join('\n');

/** A private Exim daemon from the generated config; routing replaced by a blackhole, spool and logs in `dir`. */
export class EximInstance {
  readonly configFile: string;
  private readonly pidFile: string;

  constructor(readonly dir: string) {
    this.configFile = path.join(dir, 'exim.conf');
    this.pidFile = path.join(dir, 'exim.pid');
  }

  async start(mtaConfigOutput: string): Promise<void> {
    const routersAt = mtaConfigOutput.indexOf('\nbegin routers');
    if (routersAt < 0) throw new Error('mailca mta-config --mta exim printed no routers section');
    for (const sub of ['spool', 'log']) mkdirSync(path.join(this.dir, sub), { recursive: true, mode: 0o750 });
    chmodSync(this.dir, 0o755);
    runOk('chown', ['-R', `${EXIM_USER}:${EXIM_USER}`, path.join(this.dir, 'spool'), path.join(this.dir, 'log')]);
    const benchMain = [
      '# bench-only settings of a private instance',
      `exim_path = ${EXIM_BIN}`,
      `spool_directory = ${path.join(this.dir, 'spool')}`,
      `log_file_path = ${path.join(this.dir, 'log')}/%slog`,
      `pid_file_path = ${this.pidFile}`,
      '',
    ].join('\n');
    writeFileSync(this.configFile, benchMain + mtaConfigOutput.slice(0, routersAt + 1) + EXIM_BENCH_ROUTING);
    chmodSync(this.configFile, 0o644);
    runOk(EXIM_BIN, ['-C', this.configFile, '-bV']);
    runOk(EXIM_BIN, ['-C', this.configFile, '-bd']);
    for (let i = 0; i < 250 && !existsSync(this.pidFile); i++) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(this.pidFile)) throw new Error(`exim did not start: ${this.log().trim().split('\n').slice(-2).join(' | ')}`);
  }

  stop(): void {
    if (!existsSync(this.pidFile)) return;
    const pid = Number.parseInt(readFileSync(this.pidFile, 'utf8').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  log(): string {
    return ['mainlog', 'rejectlog', 'paniclog']
      .map((f) => path.join(this.dir, 'log', f))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() - started > timeoutMs) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a TCP port on 127.0.0.1 is already taken (then the bench must not start a server there). */
export async function portInUse(port: number): Promise<boolean> {
  return new Promise<boolean>((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
