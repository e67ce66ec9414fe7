import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderedEximConfig } from '../../src/publishers/mta-config/index.ts';
import { run, runOk, type RunResult } from './run.ts';
import { MAIL_USERS } from './users.ts';

export const EXIM_ROOT = '/opt/mailca-exim';
export const EXIM_BIN = join(EXIM_ROOT, 'usr/sbin/exim4');
const EXIM_USER = 'Debian-exim';

/** Every accepted message is thrown away: mail never leaves the machine. */
const TEST_ROUTING = ['begin routers', '', 'blackhole:', '  driver = redirect', '  data = :blackhole:', ''].join('\n');

/** `login: CRYPT-HASH` lines for the generated lsearch-crypteq authenticators. */
export function writeEximPasswordFile(file: string): void {
  const lines = MAIL_USERS.map((user) => {
    const hash = runOk('openssl', ['passwd', '-6', '-salt', 'mailcatest', user.password]).stdout.trim();
    return `${user.login}: ${hash}\n`;
  });
  writeFileSync(file, lines.join(''));
  chmodSync(file, 0o644);
}

/** A private Exim daemon from a generated config; routing replaced by a blackhole, spool and logs in `dir`. */
export class EximInstance {
  readonly configFile: string;
  readonly pidFile: string;

  constructor(readonly dir: string) {
    this.configFile = join(dir, 'exim.conf');
    this.pidFile = join(dir, 'exim.pid');
  }

  writeConfig(rendered: RenderedEximConfig): void {
    for (const sub of ['spool', 'log']) mkdirSync(join(this.dir, sub), { recursive: true, mode: 0o750 });
    chmodSync(this.dir, 0o755);
    runOk('chown', ['-R', `${EXIM_USER}:${EXIM_USER}`, join(this.dir, 'spool'), join(this.dir, 'log')]);
    const routersAt = rendered.eximConf.indexOf('\nbegin routers');
    if (routersAt < 0) throw new Error('generated Exim config has no routers section');
    const testMain = [
      '# test-only settings of a private instance',
      `exim_path = ${EXIM_BIN}`,
      `spool_directory = ${join(this.dir, 'spool')}`,
      `log_file_path = ${join(this.dir, 'log')}/%slog`,
      `pid_file_path = ${this.pidFile}`,
      'log_selector = +tls_peerdn +tls_certificate_verified +received_recipients',
      '',
    ].join('\n');
    writeFileSync(this.configFile, testMain + rendered.eximConf.slice(0, routersAt + 1) + TEST_ROUTING);
    chmodSync(this.configFile, 0o644);
  }

  /** `exim -bV`: parses the whole configuration. */
  check(): RunResult {
    return run(EXIM_BIN, ['-C', this.configFile, '-bV']);
  }

  /** Starts the daemon (it forks into the background) and waits for its pid file. */
  async start(): Promise<void> {
    runOk(EXIM_BIN, ['-C', this.configFile, '-bd']);
    for (let i = 0; i < 100 && !existsSync(this.pidFile); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    if (!existsSync(this.pidFile)) throw new Error(`exim did not start:\n${this.log()}`);
  }

  private pid(): number | undefined {
    if (!existsSync(this.pidFile)) return undefined;
    const pid = Number.parseInt(readFileSync(this.pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** SIGHUP: the daemon re-execs itself and re-reads the CA bundle and CRL. */
  async reload(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) throw new Error('exim is not running');
    process.kill(pid, 'SIGHUP');
    // The re-exec'd daemon rewrites its pid file; give it a moment to listen again.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }

  stop(): void {
    const pid = this.pid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }

  log(): string {
    const file = join(this.dir, 'log', 'mainlog');
    const reject = join(this.dir, 'log', 'rejectlog');
    const panic = join(this.dir, 'log', 'paniclog');
    return [file, reject, panic].filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('\n');
  }
}
