/**
 * End-to-end harness: a real mailca server (in this process), the real `mailca mta-config` and pull client as child
 * processes, and real Postfix/Exim reading the files the pull client keeps current.
 *
 * The mailca HTTP server runs on this process's event loop, so everything that may talk to it (the pull client) or
 * that runs while a pull is in flight (swaks in a polling loop) is spawned asynchronously, never with spawnSync.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { issueLeafCertificate } from '../../src/issuance/certificate.ts';
import { newSerial } from '../../src/issuance/serial.ts';
import { POLICIES, type MtaKind, type PolicyNumber, type RenderedEximConfig, type RenderedPostfixConfig } from '../../src/publishers/mta-config/index.ts';
import { consumerFormat, type AllowlistFormat, type ConsumerFormat } from '../../src/publishers/formats/index.ts';
import { PUBLISHED_FILES } from '../../src/publishers/publish.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, startServer, untilCrlLists } from '../helpers/mailca.ts';
import { createTestPki, type ClientCertificate, type TestPki } from './certs.ts';
import { writeEximPasswordFile } from './exim-instance.ts';
import { policyPorts, policyServicePort } from './ports.ts';
import type { PostfixInstance } from './postfix-instance.ts';
import { runOk } from './run.ts';
import type { ClientTls } from './swaks.ts';
import { ALICE, BOB, MAIL_USERS } from './users.ts';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MAILCA_CLI = join(REPO, 'bin', 'mailca.mjs');
const PULL_CLIENT = join(REPO, 'pull', 'mailca-pull.mjs');

export const PUBLIC_URL = 'https://portal.example.test';
export const ENROL_MESSAGE = `client certificate required - enrol at ${PUBLIC_URL}/`;

type Server = Awaited<ReturnType<typeof startServer>>;

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell and without blocking the event loop (the mailca server lives on it). */
export function runAsync(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((done, fail) => {
    execFile(command, args, { encoding: 'utf8', env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return fail(error);
      done({ status: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

function describeRun(what: string, r: CommandResult): string {
  return `${what} exited ${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** A certificate mailca issued (or that chains to its CA), with the key swaks presents. */
export interface IssuedClientCertificate extends ClientCertificate {
  serial: string;
}

function clientCertificate(email: string, certFile: string, keyFile: string, serial: string): IssuedClientCertificate {
  const fingerprintWithColons = new X509Certificate(readFileSync(certFile)).fingerprint256.toUpperCase();
  return { email, certFile, keyFile, serial, fingerprintWithColons, fingerprintHex: fingerprintWithColons.replaceAll(':', '') };
}

// ---------------------------------------------------------------------------------------------------------------
// swaks, asynchronously

export interface SmtpAttempt {
  port: number;
  tls: ClientTls;
  certificate?: ClientCertificate;
  auth?: { login: string; password: string };
  /** Stop after this step (default RCPT: the policies decide at RCPT at the latest). */
  quitAfter?: 'EHLO' | 'MAIL' | 'RCPT' | 'DATA';
  /** MAIL FROM; default the login, else the certificate's address. */
  from?: string;
}

export interface SmtpResult {
  exitCode: number;
  accepted: boolean;
  transcript: string;
}

/** One SMTP session with swaks against 127.0.0.1; exit 0 = every step succeeded, 2x = the step that failed. */
export async function smtp(request: SmtpAttempt): Promise<SmtpResult> {
  const from = request.from ?? request.auth?.login ?? request.certificate?.email ?? 'nobody@example.test';
  const args = ['--server', `127.0.0.1:${request.port}`, '--timeout', '10', '--helo', 'client.example.test', '--from', from, '--to', 'someone@example.org'];
  if (request.tls === 'starttls') args.push('--tls');
  if (request.tls === 'tls-on-connect') args.push('--tlsc');
  if (request.certificate) args.push('--tls-cert', request.certificate.certFile, '--tls-key', request.certificate.keyFile);
  if (request.auth) args.push('--auth', 'PLAIN', '--auth-user', request.auth.login, '--auth-password', request.auth.password);
  const quitAfter = request.quitAfter ?? 'RCPT';
  if (quitAfter !== 'DATA') args.push('--quit-after', quitAfter);
  const r = await runAsync('swaks', args, { timeoutMs: 30_000 });
  return { exitCode: r.status, accepted: r.status === 0, transcript: `$ swaks ${args.join(' ')}\n${r.stdout}${r.stderr}` };
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Repeats an SMTP attempt until `done(result)`; returns the time from `sinceMs` (performance.now()) to the end of
 * the first attempt that satisfied it, the number of attempts, and that attempt.
 */
export async function repeatUntil(
  attempt: () => Promise<SmtpResult>,
  done: (r: SmtpResult) => boolean,
  sinceMs: number,
  timeoutMs = 20_000,
): Promise<{ ms: number; attempts: number; result: SmtpResult; history: number[] }> {
  const history: number[] = [];
  for (;;) {
    const result = await attempt();
    history.push(result.exitCode);
    const ms = performance.now() - sinceMs;
    if (done(result)) return { ms, attempts: history.length, result, history };
    if (ms > timeoutMs) throw new Error(`not done after ${Math.round(ms)} ms (${history.length} attempts, exit codes ${history.join(',')})\n${result.transcript}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// mailca

/** The formats an MTA reads itself (those with `mailca mta-config`). */
export type PullFormat = MtaKind;

/** Where one MTA's pulled files live: the names `mailca mta-config --files-dir` expects. */
export interface PullDirectory {
  format: PullFormat;
  dir: string;
  allowlist: string;
  enforcement: string;
  ca: string;
  crl: string;
  /** The CA bundle followed by the CRLs (Dovecot's ssl_ca). */
  caCrl: string;
  /** The --format's own senders map, if it has one (`--senders-out`; Exim binds password logins to their addresses with it). */
  senderLogins?: string;
  /** The JSON list and the senders table that the policy service (Postfix) pulls and loads. */
  json: string;
  senders: string;
}

/**
 * Whether mailca's server publishes what the Postfix policy service needs beyond the older JSON list: `owner`,
 * `senders` and `enforced_users` in the JSON list and the senders table (`/api/v1/senders?format=postfix`).
 */
export async function serverPublishesSenderContract(): Promise<boolean> {
  const srv = await startServer({ publicUrl: PUBLIC_URL });
  try {
    const headers = { authorization: `Bearer ${await addTestToken(srv.m, 'mta')}` };
    const senders = await fetch(`${srv.url}/api/v1/senders?format=postfix`, { headers });
    const list = await fetch(`${srv.url}/api/v1/allowlist?format=json`, { headers });
    const body = list.status === 200 ? ((await list.json()) as Record<string, unknown>) : {};
    return senders.status === 200 && Array.isArray(body.enforced_users);
  } finally {
    await srv.stop();
  }
}

/** mailca serving HTTP with users alice and bob (the MTAs' SASL logins), an admin and an mta token. */
export class E2eMailca {
  readonly pki: TestPki;
  readonly tokenFile: string;
  readonly eximPasswordFile: string;
  readonly admin: HttpClient;
  private readonly sessions = new Map<string, HttpClient>();
  private readonly watchers = new Set<PullWatch>();
  private counter = 0;

  private constructor(
    readonly srv: Server,
    readonly dir: string,
    mtaToken: string,
    adminToken: string,
  ) {
    this.pki = createTestPki(join(dir, 'pki'));
    this.tokenFile = join(dir, 'mta-token');
    writeFileSync(this.tokenFile, `${mtaToken}\n`, { mode: 0o600 });
    this.eximPasswordFile = join(dir, 'pki', 'exim-passwords');
    writeEximPasswordFile(this.eximPasswordFile);
    this.admin = new HttpClient(srv.url, { authorization: `Bearer ${adminToken}` });
  }

  static async start(name: string): Promise<E2eMailca> {
    const srv = await startServer({ publicUrl: PUBLIC_URL });
    const dir = mkdtempSync(join(tmpdir(), `mailca-e2e-${name}-`));
    // The servers' unprivileged processes (postfix, Debian-exim) must reach the pulled files in here.
    chmodSync(dir, 0o755);
    for (const user of MAIL_USERS) await addTestUser(srv.m, user.login);
    const env = new E2eMailca(srv, dir, await addTestToken(srv.m, 'mta'), await addTestToken(srv.m, 'admin'));
    for (const user of MAIL_USERS) {
      const session = new HttpClient(srv.url);
      const login = await session.login(user.login);
      if (login.status !== 200) throw new Error(`login ${user.login}: ${login.status} ${login.text}`);
      env.sessions.set(user.login, session);
    }
    return env;
  }

  private session(login: string): HttpClient {
    const session = this.sessions.get(login);
    if (!session) throw new Error(`no session for ${login}`);
    return session;
  }

  private newName(label: string): string {
    this.counter += 1;
    return `${label.replace(/[^a-z0-9]+/gi, '-')}-${this.counter}`;
  }

  /** Key and CSR by openssl; certificate from POST /api/v1/enrol as the signed-in user. */
  async enrol(login: string, label = login.split('@')[0] ?? 'user'): Promise<IssuedClientCertificate> {
    const certDir = join(this.dir, 'client');
    mkdirSync(certDir, { recursive: true });
    const name = this.newName(label);
    const { keyFile, csrPem } = opensslCsr(certDir, name, 'P-256', `/CN=${login}`);
    const res = await this.session(login).post('/api/v1/enrol', { csr: csrPem, device_label: name });
    if (res.status !== 201) throw new Error(`enrol ${login}: ${res.status} ${res.text}`);
    const body = res.json as { serial: string; certificate: string };
    const certFile = join(certDir, `${name}.pem`);
    writeFileSync(certFile, body.certificate);
    return clientCertificate(login, certFile, keyFile, body.serial);
  }

  /**
   * A certificate signed by mailca's issuing CA key that mailca never recorded: a valid chain to the published CA
   * bundle, but on no allow-list (what a stolen CA key or a bug elsewhere would produce).
   */
  async unrecordedCertificate(login: string): Promise<IssuedClientCertificate> {
    const certDir = join(this.dir, 'client');
    mkdirSync(certDir, { recursive: true });
    const name = this.newName('unrecorded');
    const keyFile = join(certDir, `${name}.key`);
    runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    const spki = createPublicKey(createPrivateKey(readFileSync(keyFile))).export({ type: 'spki', format: 'der' });
    const issuer = await this.srv.m.keyring.active();
    const now = this.srv.clock.now();
    const issued = await issueLeafCertificate({
      signer: issuer.signer,
      caCertificateDer: issuer.certificateDer,
      email: login,
      subjectPublicKeySpki: new Uint8Array(spki),
      serial: newSerial(),
      notBefore: new Date(now.getTime() - 5 * 60_000),
      notAfter: new Date(now.getTime() + 30 * DAY_MS),
    });
    const certFile = join(certDir, `${name}.pem`);
    writeFileSync(certFile, issued.pem);
    return clientCertificate(login, certFile, keyFile, issued.serial);
  }

  /** Admin revocation over the API; resolves when the response has arrived (the allow-lists already follow it). */
  async revoke(serial: string, reason = 'keyCompromise'): Promise<void> {
    const res = await this.admin.post(`/api/v1/certificates/${serial}/revoke`, { reason });
    if (res.status !== 200) throw new Error(`revoke ${serial}: ${res.status} ${res.text}`);
  }

  /** Resolves once the server's CRL lists `serial` (re-signed within a second of the revocation). */
  async untilCrlLists(serial: string): Promise<void> {
    await untilCrlLists(this.srv.url, serial);
  }

  /** A sender alias for `login` through the admin API. */
  async addAlias(login: string, alias: string): Promise<void> {
    const res = await this.admin.post(`/api/v1/users/${encodeURIComponent(login)}/aliases`, { alias });
    if (res.status !== 201) throw new Error(`alias ${login} ${alias}: ${res.status} ${res.text}`);
  }

  async setEnforcement(login: string, state: 'enforced' | 'grace' | 'default'): Promise<void> {
    const res = await this.admin.post(`/api/v1/users/${encodeURIComponent(login)}/enforcement`, { state });
    if (res.status !== 200) throw new Error(`enforcement ${login} ${state}: ${res.status} ${res.text}`);
  }

  /** The environment the mailca CLI sees: this server's data dir, database and public URL. */
  cliEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, MAILCA_DATA_DIR: this.srv.db.dataDir, MAILCA_PUBLIC_URL: PUBLIC_URL, MAILCA_LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.MAILCA_CONFIG;
    if (this.srv.db.databaseUrl) env.DATABASE_URL = this.srv.db.databaseUrl;
    return env;
  }

  /** `mailca mta-config` for one policy with the test's ports, server certificate, SASL backends and pull directory. */
  async mtaConfig(mta: MtaKind, policy: PolicyNumber, portBase: number, files: PullDirectory | string): Promise<string> {
    const ports = policyPorts(portBase, policy);
    const args = [
      MAILCA_CLI, 'mta-config', '--mta', mta, '--policy', String(policy),
      '--files-dir', typeof files === 'string' ? files : files.dir,
      '--hostname', 'mx.example.test',
      '--tls-cert', this.pki.serverCertFile, '--tls-key', this.pki.serverKeyFile,
      '--port-tls', String(ports.tlsOnConnect), '--port-submission', String(ports.submission),
      '--listen', '127.0.0.1',
      '--postfix-sasl', 'cyrus:smtpd',
      '--exim-sasl', `lsearch:${this.eximPasswordFile}`,
      '--policy-service', `inet:127.0.0.1:${policyServicePort(portBase)}`,
    ];
    const r = await runAsync(process.execPath, args, { env: this.cliEnv() });
    if (r.status !== 0) throw new Error(describeRun(`mailca mta-config --mta ${mta} --policy ${policy}`, r));
    return r.stdout;
  }

  /** A directory (readable by the MTAs) for the files the pull client maintains. */
  pullDirectory(format: PullFormat, name = `files-${format}`): PullDirectory {
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const published = (name: AllowlistFormat) => consumerFormat(name);
    const own = published(format);
    const json = published('json');
    const sendersOf = (f: ConsumerFormat) => f.senderLogins?.file ?? (f.pull.sendersFrom === undefined ? undefined : published(f.pull.sendersFrom as AllowlistFormat).senderLogins?.file);
    return {
      format,
      dir,
      allowlist: join(dir, own.allowlistFile),
      enforcement: join(dir, own.enforcement!.file),
      ...(sendersOf(own) === undefined ? {} : { senderLogins: join(dir, sendersOf(own)!) }),
      ca: join(dir, PUBLISHED_FILES.caBundle),
      crl: join(dir, PUBLISHED_FILES.crlPem),
      caCrl: join(dir, PUBLISHED_FILES.caCrlBundle),
      json: join(dir, json.allowlistFile),
      senders: join(dir, sendersOf(json)!),
    };
  }

  /**
   * The pull client as Postfix's policy service (`--format json --watch --policy-listen`) on the port that
   * `mtaConfig(…, portBase, …)` names; `senders` adds --senders-out (the socketmap the optional policies use).
   */
  async policyService(files: PullDirectory, portBase: number, opts: { senders: boolean }): Promise<PullWatch> {
    const args = [PULL_CLIENT, '--url', this.srv.url, '--token-file', this.tokenFile, '--format', 'json', '--out', files.json];
    if (opts.senders) args.push('--senders-out', files.senders);
    args.push('--watch', '--policy-listen', `inet:127.0.0.1:${policyServicePort(portBase)}`);
    const watch = new PullWatch(spawn(process.execPath, args, { env: this.cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
    this.watchers.add(watch);
    await watch.ready;
    return watch;
  }

  /**
   * Resolves once the watching policy service holds what the server publishes now (its index is swapped before
   * the file is written, so an equal file means an equal index).
   */
  async policySynced(files: PullDirectory, opts: { senders: boolean }, timeoutMs = 30_000): Promise<void> {
    const headers = { authorization: `Bearer ${readFileSync(this.tokenFile, 'utf8').trim()}` };
    const wanted: [string, string][] = [[files.json, await (await fetch(`${this.srv.url}/api/v1/allowlist?format=json`, { headers })).text()]];
    if (opts.senders) wanted.push([files.senders, await (await fetch(`${this.srv.url}/api/v1/senders?format=postfix`, { headers })).text()]);
    const started = performance.now();
    const read = (file: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    };
    while (!wanted.every(([file, text]) => read(file) === text)) {
      if (performance.now() - started > timeoutMs) throw new Error(`the policy service did not pick up the published list in ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  private pullArgs(files: PullDirectory, opts: { then?: string; only?: Partial<Record<'allowlist' | 'enforcement' | 'senderLogins' | 'ca' | 'crl' | 'caCrl', string>> }): string[] {
    const out = { allowlist: files.allowlist, enforcement: files.enforcement, senderLogins: files.senderLogins, ca: files.ca, crl: files.crl, caCrl: files.caCrl, ...opts.only };
    const args = ['--url', this.srv.url, '--token-file', this.tokenFile, '--format', files.format, '--out', out.allowlist];
    args.push('--enforcement-out', out.enforcement);
    if (out.senderLogins !== undefined) args.push('--senders-out', out.senderLogins);
    // The CA files the MTA reads: the bundle and the CRLs apart, or in one file (Dovecot's ssl_ca).
    if (consumerFormat(files.format).pull.caCrl) args.push('--ca-crl-out', out.caCrl);
    else args.push('--ca-out', out.ca, '--crl-out', out.crl);
    if (opts.then) args.push('--then', opts.then);
    return args;
  }

  /**
   * One-shot pull. `via: 'mailca'` runs `mailca pull …` (bin/mailca.mjs), otherwise the standalone client a mail
   * host installs (pull/mailca-pull.mjs, the same code). `only` redirects some outputs elsewhere (e.g. to keep a
   * stale allow-list in place while the CRL is updated).
   */
  async pull(files: PullDirectory, opts: { then?: string; via?: 'mailca' | 'standalone'; only?: Partial<Record<'allowlist' | 'enforcement' | 'senderLogins' | 'ca' | 'crl', string>> } = {}): Promise<CommandResult> {
    const args = this.pullArgs(files, opts);
    const command = opts.via === 'mailca' ? [MAILCA_CLI, 'pull', ...args] : [PULL_CLIENT, ...args];
    const r = await runAsync(process.execPath, command, { env: this.cliEnv() });
    if (r.status !== 0) throw new Error(describeRun(`pull ${files.format}`, r));
    return r;
  }

  /** The pull client with --watch in the background; ready once its first round has completed. */
  async watch(files: PullDirectory, then: string): Promise<PullWatch> {
    const watch = new PullWatch(spawn(process.execPath, [PULL_CLIENT, ...this.pullArgs(files, { then }), '--watch'], { env: this.cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
    this.watchers.add(watch);
    await watch.ready;
    return watch;
  }

  async stop(): Promise<void> {
    for (const watch of this.watchers) await watch.stop();
    await this.srv.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running `mailca-pull --watch`. */
export class PullWatch {
  readonly ready: Promise<void>;
  private text = '';
  private exited: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    let markReady: () => void = () => undefined;
    let failReady: (e: Error) => void = () => undefined;
    this.ready = new Promise((ok, fail) => {
      markReady = ok;
      failReady = fail;
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      // The first round always prints one summary line on stdout.
      if (this.text.includes('\n')) markReady();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
    });
    this.exited = new Promise((done) => {
      child.on('exit', () => {
        failReady(new Error(`mailca-pull --watch exited early:\n${this.text}`));
        done();
      });
    });
  }

  output(): string {
    return this.text;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The CLI's output, as the harness's instances take it

/** Splits `mailca mta-config --mta postfix` output at its "# ---- main.cf ----" / "# ---- master.cf ----" markers. */
export function postfixFromCli(output: string): RenderedPostfixConfig {
  const main = output.indexOf('# ---- main.cf ----');
  const master = output.indexOf('# ---- master.cf ----');
  if (main < 0 || master < main) throw new Error(`no main.cf/master.cf sections in:\n${output}`);
  // Everything after the master.cf marker is the service entry followed by the notes, all comments.
  const mainCf = output.slice(main, master);
  const masterCf = output.slice(master);
  return { mta: 'postfix', title: '', mainCf, masterCf, parts: [{ file: 'main.cf', text: mainCf }, { file: 'master.cf', text: masterCf }], notes: '' };
}

/** `mailca mta-config --mta exim` prints a complete configuration (comments around it). */
export function eximFromCli(output: string): RenderedEximConfig {
  if (!output.includes('\nbegin acl')) throw new Error(`not an Exim configuration:\n${output}`);
  return { mta: 'exim', title: '', eximConf: output, parts: [{ text: output }], notes: '' };
}

/** The port and client TLS mode of a policy's listener. */
export function listener(portBase: number, policy: PolicyNumber): { port: number; tls: ClientTls } {
  const ports = policyPorts(portBase, policy);
  return policy <= 3 ? { port: ports.tlsOnConnect, tls: 'tls-on-connect' } : { port: ports.submission, tls: 'starttls' };
}

/** `openssl verify -CAfile` of a client certificate for the sslclient purpose. */
export async function opensslVerify(caFile: string, certFile: string): Promise<CommandResult> {
  return runAsync('openssl', ['verify', '-CAfile', caFile, '-purpose', 'sslclient', certFile]);
}

/** Number of PEM blocks of a kind in a file. */
export function pemBlocks(file: string, label: 'CERTIFICATE' | 'X509 CRL'): number {
  return readFileSync(file, 'utf8').split(`-----BEGIN ${label}-----`).length - 1;
}

/** When a `--watch` client reported (after its --then) that it updated `file`: ms since the epoch. */
export function watchUpdateTime(output: string, file: string): number {
  const line = output.split('\n').find((l) => / updated /.test(l) && l.includes(file));
  if (!line) throw new Error(`the watching pull client never updated ${file}:\n${output}`);
  return Date.parse(line.split(' ')[0] ?? '');
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (e.g. Exim again listening after its SIGHUP re-exec). */
export async function waitListening(port: number, timeoutMs = 10_000): Promise<void> {
  const started = performance.now();
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
    if (performance.now() - started > timeoutMs) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** An SMTP attempt on a policy's listener: what the client sends (port and TLS mode follow from the policy). */
export type SmtpRequest = Omit<SmtpAttempt, 'port' | 'tls'>;

/**
 * swaks against the listeners of the policies (ports from `portBase`), and an outcome check whose failure message
 * shows the transcript and the tail of the MTA's log. `onRefused` adds the MTA's own checks of a refusal.
 */
export function smtpOutcomes(
  portBase: number,
  mta: string,
  logOf: (policy: PolicyNumber) => string,
  onRefused?: (policy: PolicyNumber, r: SmtpResult) => void,
) {
  const on = (policy: PolicyNumber, request: SmtpRequest): Promise<SmtpResult> => smtp({ ...listener(portBase, policy), ...request });
  const explain = (policy: PolicyNumber, r: SmtpResult): string =>
    `policy ${policy}\n${r.transcript}\n--- ${mta} log (tail) ---\n${logOf(policy).split('\n').slice(-12).join('\n')}`;
  const expectOutcome = async (policy: PolicyNumber, request: SmtpRequest, accepted: boolean): Promise<SmtpResult> => {
    const r = await on(policy, request);
    expect(r.accepted, explain(policy, r)).toBe(accepted);
    if (!accepted) onRefused?.(policy, r);
    return r;
  };
  return { on, explain, expectOutcome };
}

/** Writes the printed `mailca mta-config` outputs as the instance's configuration, checks it and starts Postfix. */
export function startPostfixFromCli(postfix: PostfixInstance, outputs: readonly string[]): void {
  postfix.writeConfig(outputs.map(postfixFromCli));
  const check = postfix.check();
  expect(check.status, `${check.stderr}${postfix.log()}`).toBe(0);
  postfix.start();
}

/** What the per-policy cases need, read once the suite's beforeAll has run. */
export interface PolicyCases {
  mailca: E2eMailca;
  files: PullDirectory;
  aliceCert: IssuedClientCertificate;
  bobCert: IssuedClientCertificate;
  expectOutcome(policy: PolicyNumber, request: SmtpRequest, accepted: boolean): Promise<SmtpResult>;
}

/**
 * The cases every MTA must pass on every certificate policy: enrolled certificates accepted without a password,
 * a certificate of the mailca CA that is not on the allow-list refused, one of another CA refused, nothing refused,
 * and a password alone accepted only where certificates are optional. `unrecordedRefused` adds the MTA's own
 * checks of the refusal of the certificate that is not on the allow-list.
 */
export function describeCertificatePolicies(
  policies: readonly PolicyNumber[],
  get: () => PolicyCases,
  opts: { unrecordedRefused?: (policy: PolicyNumber, refused: SmtpResult) => void } = {},
): void {
  describe.each(policies)('policy %i', (policy) => {
    const mode = POLICIES[policy].clientCertificates;

    it('a certificate enrolled through mailca is accepted without a password', async () => {
      const { expectOutcome, aliceCert, bobCert } = get();
      await expectOutcome(policy, { certificate: aliceCert }, true);
      await expectOutcome(policy, { certificate: bobCert }, true);
    });

    it('a certificate with a valid chain to the mailca CA that is not on the allow-list is refused', async () => {
      const { expectOutcome, mailca, files } = get();
      const unknown = await mailca.unrecordedCertificate(BOB.login);
      const verify = await opensslVerify(files.ca, unknown.certFile);
      expect(verify.stdout, verify.stderr).toContain(': OK');
      const refused = await expectOutcome(policy, { certificate: unknown }, false);
      opts.unrecordedRefused?.(policy, refused);
      // A password does not rescue it under mandatory certificates.
      if (mode === 'mandatory') await expectOutcome(policy, { certificate: unknown, auth: BOB }, false);
    });

    it('a certificate from another CA is refused', async () => {
      const { expectOutcome, mailca } = get();
      await expectOutcome(policy, { certificate: mailca.pki.unlisted }, false);
    });

    it('no certificate and no password is refused', async () => {
      await get().expectOutcome(policy, {}, false);
    });

    it(`a password without a certificate is ${mode === 'optional' ? 'accepted' : 'refused'}`, async () => {
      await get().expectOutcome(policy, { auth: BOB }, mode === 'optional');
    });
  });
}

/** What the grace → enforced case needs besides the per-policy cases. */
export interface EnforcementCase extends PolicyCases {
  /** Makes the MTA see the new files: a one-shot pull (its result), or waiting for a watching policy service (undefined). */
  pull(): Promise<CommandResult | undefined>;
  explain(policy: PolicyNumber, r: SmtpResult): string;
}

/**
 * alice in grace sends with her password on the optional-certificate policies; once enforced through the API (and a
 * pull) she is refused with the enrol link, while bob's password and her certificate still work. `enforcedPulled`
 * adds the MTA's own checks of the pulled files.
 */
export function itRefusesEnforcedUserAfterGrace(
  policies: readonly PolicyNumber[],
  get: () => EnforcementCase,
  opts: { enforcedPulled?: () => void } = {},
): void {
  const optional = policies.filter((p) => POLICIES[p].clientCertificates === 'optional');
  it('a grace user may send with a password; once enforced through the API (and a pull) refused with the enrol link; the certificate still works', async () => {
    const { mailca, files, aliceCert, expectOutcome, pull, explain } = get();
    await mailca.setEnforcement(ALICE.login, 'grace');
    await pull();
    for (const policy of optional) await expectOutcome(policy, { auth: ALICE }, true);

    await mailca.setEnforcement(ALICE.login, 'enforced');
    const pulled = await pull();
    if (pulled) expect(pulled.stdout).toContain(`enforcement.${files.format}`);
    opts.enforcedPulled?.();
    for (const policy of optional) {
      const refused = await expectOutcome(policy, { auth: ALICE }, false);
      expect(refused.transcript, explain(policy, refused)).toContain('client certificate required - enrol at');
      expect(refused.transcript).toContain(ENROL_MESSAGE);
      // bob is not enforced and still sends with his password.
      await expectOutcome(policy, { auth: BOB }, true);
      // alice's enrolled certificate works, alone or with her password.
      await expectOutcome(policy, { certificate: aliceCert }, true);
      await expectOutcome(policy, { certificate: aliceCert, auth: ALICE }, true);
    }
    for (const policy of policies) await expectOutcome(policy, { certificate: aliceCert }, true);
  });
}

/** What the password-sender case needs besides the SMTP outcomes. */
export interface PasswordSenderCase {
  mailca: E2eMailca;
  expectOutcome(policy: PolicyNumber, request: SmtpRequest, accepted: boolean): Promise<SmtpResult>;
  explain(policy: PolicyNumber, r: SmtpResult): string;
  /** Makes the MTA see the new senders table: a one-shot pull, or waiting for a watching policy service. */
  pull(): Promise<unknown>;
}

/**
 * bob with his password may send as his own address, as an alias added through the API (once pulled) and with the
 * null sender; alice's address is refused with the MTA's text, `refusal(sender, login)`. For the policies where a
 * password alone sends.
 */
export function itBindsPasswordUsersToTheirSenders(
  policies: readonly PolicyNumber[],
  get: () => PasswordSenderCase,
  refusal: (sender: string, login: string) => string,
): void {
  it(`policies ${policies.join(', ')}: a password user sends as their own address, an alias and the null sender; another user's address is refused`, async () => {
    const { mailca, expectOutcome, explain, pull } = get();
    expect(policies.length).toBeGreaterThan(0);
    const alias = 'robert@example.test';
    await mailca.addAlias(BOB.login, alias);
    await pull();
    for (const policy of policies) {
      await expectOutcome(policy, { auth: BOB, from: BOB.login }, true);
      await expectOutcome(policy, { auth: BOB, from: alias }, true);
      await expectOutcome(policy, { auth: BOB, from: '<>' }, true);
      const other = await expectOutcome(policy, { auth: BOB, from: ALICE.login }, false);
      expect(other.exitCode, explain(policy, other)).toBe(24);
      expect(other.transcript, explain(policy, other)).toContain(refusal(ALICE.login, BOB.login));
      // The alias is bob's: alice may not use it either.
      const aliasOfOther = await expectOutcome(policy, { auth: ALICE, from: alias }, false);
      expect(aliasOfOther.transcript, explain(policy, aliasOfOther)).toContain(refusal(alias, ALICE.login));
    }
  });
}
