import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAsync, waitListening } from './e2e-harness.ts';

export const DOVECOT_BIN = '/usr/sbin/dovecot';
export const DOVECONF_BIN = '/usr/bin/doveconf';

/** Why the Dovecot tests cannot run here (undefined: they can). In CI they always run: `.ci/install-mta.sh`. */
export const DOVECOT_SKIP_REASON: string | undefined = (() => {
  const missing = [DOVECOT_BIN, DOVECONF_BIN, '/usr/bin/doveadm', '/usr/bin/curl'].filter((file) => !existsSync(file));
  if (process.getuid?.() !== 0) missing.push('root (a private Dovecot instance needs it)');
  if (missing.length === 0 || process.env.CI) return undefined;
  const reason = `Dovecot tests skipped: missing ${missing.join(', ')} (run .ci/install-mta.sh as root)`;
  console.warn(reason);
  return reason;
})();

/** The uid/gid the test mailboxes belong to (Debian's nobody:nogroup). */
const MAIL_UID = 65534;
const MAIL_GID = 65534;

/**
 * A private Dovecot on 127.0.0.1: its own base_dir, log and maildirs under `dir`, no system service. The site part
 * (protocols, mail location, userdb) is written here; everything about certificates and passwords comes from the
 * fragment `mailca mta-config --mta dovecot` printed, included as it is.
 */
export class DovecotInstance {
  readonly configFile: string;
  readonly fragmentFile: string;
  readonly logFile: string;
  readonly mailDir: string;

  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'run'), { recursive: true });
    this.configFile = join(dir, 'dovecot.conf');
    this.fragmentFile = join(dir, 'mailca.conf');
    this.logFile = join(dir, 'dovecot.log');
    this.mailDir = join(dir, 'mail');
  }

  writeConfig(fragment: string): void {
    writeFileSync(this.fragmentFile, fragment);
    writeFileSync(
      this.configFile,
      [
        `base_dir = ${this.dir}/run`,
        `state_dir = ${this.dir}/state`,
        `instance_name = mailca-test-${this.dir.replace(/[^a-zA-Z0-9]/g, '')}`,
        'protocols = imap',
        'listen = 127.0.0.1',
        `log_path = ${this.logFile}`,
        'auth_verbose = yes',
        // Refusals answer at once (Dovecot waits 2 s by default).
        'auth_failure_delay = 0',
        `mail_location = maildir:${this.mailDir}/%u`,
        'service imap-login {',
        '  inet_listener imap {',
        '    port = 0',
        '  }',
        '}',
        // Nor does anvil's growing penalty for repeated failures from one IP (the tests fail logins on purpose).
        'service anvil {',
        '  unix_listener anvil-auth-penalty {',
        '    mode = 0',
        '  }',
        '}',
        'userdb {',
        '  driver = static',
        `  args = uid=${MAIL_UID} gid=${MAIL_GID} home=${this.mailDir}/%u`,
        '}',
        `!include ${this.fragmentFile}`,
        '',
      ].join('\n'),
    );
  }

  /** A maildir for `login` with one folder only its owner has: what a LIST shows tells whose mailbox opened. */
  addMailbox(login: string, folder: string): void {
    const home = join(this.mailDir, login);
    for (const d of [this.mailDir, home, join(home, `.${folder}`)]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, MAIL_UID, MAIL_GID);
    }
  }

  /** `doveconf -n -c FILE`: exit 0 when Dovecot accepts the configuration. */
  check(): Promise<{ status: number; stdout: string; stderr: string }> {
    return runAsync(DOVECONF_BIN, ['-n', '-c', this.configFile]);
  }

  async start(port: number): Promise<void> {
    const r = await runAsync(DOVECOT_BIN, ['-c', this.configFile]);
    if (r.status !== 0) throw new Error(`dovecot did not start (${r.status}): ${r.stdout}${r.stderr}\n${this.log()}`);
    await waitListening(port);
  }

  masterPid(): number {
    return Number(readFileSync(join(this.dir, 'run', 'master.pid'), 'utf8').trim());
  }

  async stop(): Promise<void> {
    if (existsSync(join(this.dir, 'run', 'master.pid'))) await runAsync('/usr/bin/doveadm', ['-c', this.configFile, 'stop']);
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}
