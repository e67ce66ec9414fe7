// Bench-only: private Postfix and Exim instances run from the configuration `mailca mta-config` prints, with
// bench-only settings added (loopback, every message discarded, spool and logs in a temp dir). Postfix is the tests'
// own private instance (test/mta/private-postfix.ts); Exim is the minimum of test/mta/exim-instance.ts that a running
// instance needs, without the test framework.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { POSTFIX_BIN, PrivatePostfix, SASLPASSWD2, type PrivatePostfixOptions } from '../../test/mta/private-postfix.ts';

export const EXIM_BIN = '/opt/mailca-exim/usr/sbin/exim4';
const EXIM_USER = 'Debian-exim';

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

const BENCH_POSTFIX: PrivatePostfixOptions = {
  purpose: 'bench',
  // The generated `--postfix-sasl cyrus:smtpd` needs a working sasldb; nobody authenticates in the bench.
  saslUsers: [{ login: 'bench@example.test', password: 'bench password' }],
};

/** An error's first line and the last two lines of the output it quotes, as one line (for a bench row). */
function oneLine(e: unknown): Error {
  const [first = '', ...rest] = (e instanceof Error ? e.message : String(e)).trim().split('\n');
  const tail = rest.map((l) => l.trim()).filter(Boolean).slice(-2);
  return new Error(tail.length ? `${first}: ${tail.join(' | ')}` : first);
}

/**
 * A private Postfix in `dir` (config in dir/conf, see test/mta/private-postfix.ts) running the main.cf/master.cf that
 * `mailca mta-config --mta postfix` printed.
 */
export function startPostfix(dir: string, mtaConfigOutput: string): PrivatePostfix {
  const postfix = new PrivatePostfix(dir, BENCH_POSTFIX);
  try {
    postfix.writeConfig([postfixSections(mtaConfigOutput)]);
    postfix.start();
  } catch (e) {
    throw oneLine(e);
  }
  return postfix;
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
