// 8. Revocation → a real MTA refuses the next RCPT: after the revoke response, how long until a real Postfix
// (generated policy 3 config asking the pull client's policy service, `mailca-pull --format json --watch
// --policy-listen`), a real Exim (generated policy 3 config, `lsearch,cache=no_rd` on the allow-list that
// `mailca-pull --format exim --watch` keeps) and a real Exim asking the policy service per RCPT
// (`mta-config --exim-lookup policy-service`, ${readsocket}) refuse RCPT from that certificate. Measured two ways for each
// revocation, side by side: an SMTP session opened (TLS with the client certificate, MAIL, one accepted RCPT)
// before the revocation that re-tries RCPT until refused, and a new connection (TLS, EHLO, MAIL, RCPT) per attempt.
// Nothing is reloaded: no `postfix reload`, no SIGHUP to Exim, no --then.

import { execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BenchContext, Measurement } from './lib/context.ts';
import { p256KeyAndCsrPem } from './lib/csr.ts';
import { createBenchDatabase } from './lib/database.ts';
import { httpRequest, keepAliveAgent, percentile } from './lib/http.ts';
import { expectStatus, prepareCa, revokeOverHttp, signIn } from './lib/instance.ts';
import { EximInstance, mtaUnavailable, portInUse, startPostfix, waitListening, writeEximPasswordFile } from './lib/mta.ts';
import { spawnTracked, stopChild } from './lib/processes.ts';
import { errorText, fmt, notAvailable, row, type Row } from './lib/report.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';
import { openSmtpSession, type ClientIdentity, type SmtpSession } from './lib/smtp.ts';
import type { MtaKind } from '../src/publishers/mta-config/index.ts';

const M = 'mta';
const GIVE_UP_MS = 5_000;
const TARGET_MS = 1_000;
/** Pause between two RCPT attempts (the figures' resolution is this plus one round trip). */
const RETRY_PAUSE_MS = 5;
const POLICY = 3;
/** Away from the test suites' ranges (20400–23130). */
const POLICY_SERVICE_PORT = 24530;
const PORTAL_URL = 'https://portal.example.test';
const RECIPIENT = 'someone@example.org';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAILCA_CLI = path.join(REPO, 'bin', 'mailca.mjs');
const PULL_CLIENT = path.join(REPO, 'pull', 'mailca-pull.mjs');

/** How each MTA set-up is run: the MTA, its lookup, the pull client that feeds it and the file that shows the pull landed. */
interface Variant {
  mta: Extract<MtaKind, 'postfix' | 'exim'>;
  label: string;
  port: number;
  /** The pull client answers policy/socketmap requests on POLICY_SERVICE_PORT. */
  policyService: boolean;
  mtaConfigArgs: readonly string[];
  /** --format and the outputs, in the directory the MTA reads. */
  pullArgs(files: string): string[];
  pulled(files: string): Pulled;
  context: string;
}

const jsonPull = (files: string): string[] => ['--format', 'json', '--out', path.join(files, 'allowlist.json'), '--senders-out', path.join(files, 'senders.postfix'), '--crl-out', path.join(files, 'crl.pem'), '--policy-listen', `inet:127.0.0.1:${POLICY_SERVICE_PORT}`];
const jsonPulled = (files: string): Pulled => ({ file: path.join(files, 'allowlist.json'), entry: (t) => `"${t.serial}"` });

const VARIANTS = {
  postfix: {
    mta: 'postfix',
    label: 'Postfix (policy service)',
    port: 24503,
    policyService: true,
    mtaConfigArgs: [],
    pullArgs: jsonPull,
    pulled: jsonPulled,
    context: "pull client's policy service",
  },
  exim: {
    mta: 'exim',
    label: 'Exim (lsearch cache=no_rd)',
    port: 24523,
    policyService: false,
    mtaConfigArgs: ['--exim-lookup', 'lsearch'],
    pullArgs: (files) => ['--format', 'exim', '--out', path.join(files, 'allowlist.exim'), '--enforcement-out', path.join(files, 'enforcement.exim'), '--crl-out', path.join(files, 'crl.pem')],
    pulled: (files) => ({ file: path.join(files, 'allowlist.exim'), entry: (t) => `${new X509Certificate(t.certPem).fingerprint256.replaceAll(':', '')}:` }),
    context: 'allow-list kept by mailca-pull --watch, no SIGHUP',
  },
  'exim-policy-service': {
    mta: 'exim',
    label: 'Exim (policy service, readsocket)',
    port: 24543,
    policyService: true,
    mtaConfigArgs: ['--exim-lookup', 'policy-service'],
    pullArgs: jsonPull,
    pulled: jsonPulled,
    context: "the pull client's policy service asked per RCPT (${readsocket}), no SIGHUP",
  },
} as const satisfies Record<string, Variant>;
type VariantName = keyof typeof VARIANTS;
const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

const WAYS = ['open session', 'new connection per attempt'] as const;
const figuresFor = (v: VariantName) => WAYS.flatMap((way) => ['p50', 'p99'].map((p) => `revoke response → ${VARIANTS[v].label} refuses RCPT, ${way}, ${p}`));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target extends ClientIdentity {
  serial: string;
}

/** mailca in its own process with one user whose certificates are the targets, and the files the MTAs need. */
interface Fixture {
  url: string;
  agent: http.Agent;
  adminToken: string;
  owner: string;
  dir: string;
  tokenFile: string;
  serverTls: { certFile: string; keyFile: string };
  eximPasswordFile: string;
  targets: Record<VariantName, Target[]>;
}

function runAsync(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile(command, args, { encoding: 'utf8', env, timeout: 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${path.basename(args[0] ?? command)} ${args.slice(1, 3).join(' ')}: ${(stderr || error.message).trim().split('\n').slice(-2).join(' | ')}`));
      else done(stdout);
    });
  });
}

/** `mailca mta-config` for policy 3 on the variant's port, reading the files the pull client keeps in `filesDir`. */
function mtaConfig(fx: Fixture, variant: Variant, filesDir: string): Promise<string> {
  const port = variant.port;
  const args = [
    MAILCA_CLI, 'mta-config', '--mta', variant.mta, ...variant.mtaConfigArgs, '--policy', String(POLICY), '--files-dir', filesDir, '--hostname', 'mx.example.test',
    '--tls-cert', fx.serverTls.certFile, '--tls-key', fx.serverTls.keyFile, '--port-tls', String(port), '--port-submission', String(port + 10),
    '--listen', '127.0.0.1', '--postfix-sasl', 'cyrus:smtpd', '--exim-sasl', `lsearch:${fx.eximPasswordFile}`,
    '--policy-service', `inet:127.0.0.1:${POLICY_SERVICE_PORT}`,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, MAILCA_PUBLIC_URL: PORTAL_URL, MAILCA_LOG_LEVEL: 'warn' };
  return runAsync(process.execPath, args, env);
}

/** A running `mailca-pull --watch`; ready once its first round has written the files (and the service listens). */
class PullWatch {
  private text = '';
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.text = (this.text + c.toString()).slice(-20_000)));
    child.stderr?.on('data', (c: Buffer) => (this.text = (this.text + c.toString()).slice(-20_000)));
  }

  static async start(args: string[], ready: (output: string) => boolean): Promise<PullWatch> {
    const watch = new PullWatch(spawnTracked(process.execPath, [PULL_CLIENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const started = performance.now();
    while (!ready(watch.text)) {
      if (watch.child.exitCode !== null) throw new Error(`mailca-pull exited ${watch.child.exitCode}: ${watch.text.trim().split('\n').slice(-2).join(' | ')}`);
      if (performance.now() - started > 30_000) throw new Error(`mailca-pull not ready after 30 s: ${watch.text.trim().split('\n').slice(-2).join(' | ')}`);
      await sleep(20);
    }
    return watch;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

async function setUp(ctx: BenchContext, perMta: number): Promise<{ fx: Fixture; stop: () => Promise<void> }> {
  const db = await createBenchDatabase('sqlite');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-mta-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true }), () => db.drop()];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // The MTAs' unprivileged processes (postfix, Debian-exim) read the files in here.
    chmodSync(dir, 0o755);
    const ca = await prepareCa(db, { users: 1 });
    const server = await startServerProcess(benchConfig(db, { publicUrl: PORTAL_URL }));
    cleanups.push(() => server.stop());
    const agent = keepAliveAgent(2);
    cleanups.push(() => agent.destroy());
    const owner = ca.userEmails[0]!;
    const cookie = await signIn(agent, server.url, owner);
    const enrolOne = async (i: number): Promise<Target> => {
      const { keyPem, csrPem } = p256KeyAndCsrPem(owner);
      const res = await httpRequest(agent, server.url, { method: 'POST', path: '/api/v1/enrol', headers: { cookie }, body: { csr: csrPem, device_label: `device ${i}` } });
      const error = expectStatus(res, 201);
      if (error) throw new Error(`enrol: ${error}`);
      const body = JSON.parse(res.body) as { serial: string; certificate: string };
      return { serial: body.serial, certPem: body.certificate, keyPem };
    };
    const targets = Object.fromEntries(VARIANT_NAMES.map((v) => [v, [] as Target[]])) as Record<VariantName, Target[]>;
    let enrolled = 0;
    for (const v of VARIANT_NAMES) for (let i = 0; i < perMta; i++) targets[v].push(await enrolOne(enrolled++));
    // Never revoked: the list never becomes empty (the pull client keeps the old file rather than take an empty one).
    await enrolOne(enrolled++);
    ctx.progress(`enrolled ${enrolled} certificates of ${owner}`);

    const tokenFile = path.join(dir, 'mta-token');
    writeFileSync(tokenFile, `${ca.mtaToken}\n`, { mode: 0o600 });
    const serverTls = { certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
    await runAsync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', serverTls.keyFile, '-out', serverTls.certFile, '-subj', '/CN=mx.example.test', '-days', '2'], process.env);
    // Exim reads its key as Debian-exim; a throw-away key for a loopback-only instance.
    chmodSync(serverTls.keyFile, 0o644);
    const eximPasswordFile = path.join(dir, 'exim-passwords');
    writeEximPasswordFile(eximPasswordFile);
    return { fx: { url: server.url, agent, adminToken: ca.adminToken, owner, dir, tokenFile, serverTls, eximPasswordFile, targets }, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** One way of watching for the refusal, over all revocations of one MTA. */
interface Series {
  /** ms from the revoke response to the refusal, per revocation refused within GIVE_UP_MS. */
  values: number[];
  lost: number;
  attempts: number;
  /** Refusals at the TLS handshake (the server re-read the CRL and no longer accepts the certificate). */
  atHandshake: number;
  /** Answers that were neither an acceptance nor a refusal (4xx): retried. */
  other: string[];
  /** ms from the pulled file dropping the certificate to the refusal: the MTA's own share. */
  afterPull: number[];
  /** Set once this way never saw a refusal in its first revocations: not tried on the rest. */
  stoppedAfter?: number;
}

interface Samples {
  open: Series;
  fresh: Series;
  /** ms from the revoke response until the pulled file the MTA reads no longer holds the certificate. */
  pulled: number[];
}

type Attempt = { kind: 'accepted' } | { kind: 'refused'; text: string } | { kind: 'handshake-refused'; text: string } | { kind: 'other'; text: string };

function classify(reply: { code: number; text: string }): Attempt {
  if (reply.code >= 200 && reply.code < 300) return { kind: 'accepted' };
  if (reply.code >= 500) return { kind: 'refused', text: reply.text.trim() };
  return { kind: 'other', text: reply.code ? reply.text.trim() : 'connection closed' };
}

/**
 * A new connection: TLS with the client certificate, EHLO, MAIL, RCPT; the answer to RCPT (or to MAIL if refused
 * there). A connection that a server which accepted the certificate before now closes during the handshake or before
 * its greeting counts as refused at the handshake (Exim re-reads a changed tls_crl for new connections).
 */
async function freshAttempt(port: number, client: ClientIdentity, owner: string): Promise<Attempt> {
  let session: SmtpSession;
  try {
    session = await openSmtpSession(port, client);
  } catch (e) {
    return { kind: 'handshake-refused', text: errorText(e) };
  }
  try {
    const mail = classify(await session.command(`MAIL FROM:<${owner}>`));
    if (mail.kind !== 'accepted') return mail;
    return classify(await session.command(`RCPT TO:<${RECIPIENT}>`));
  } finally {
    await session.quit();
  }
}

/** Re-tries `attempt` until refused or GIVE_UP_MS after `revokedAt`; the time of the refusal, or undefined. */
async function untilRefused(series: Series, revokedAt: number, attempt: () => Promise<Attempt>): Promise<number | undefined> {
  for (;;) {
    series.attempts++;
    const r = await attempt();
    const at = performance.now() - revokedAt;
    if (r.kind === 'refused') return at;
    if (r.kind === 'handshake-refused') {
      series.atHandshake++;
      return at;
    }
    if (r.kind === 'other') {
      series.other.push(r.text);
      if (r.text === 'connection closed') return undefined;
    }
    if (at > GIVE_UP_MS) return undefined;
    await sleep(RETRY_PAUSE_MS);
  }
}

const record = (series: Series, at: number | undefined) => (at === undefined ? series.lost++ : series.values.push(at));

/** A way that never saw a refusal in its first few revocations is not tried again (each costs GIVE_UP_MS). */
function stopIfNeverRefused(series: Series, revocations: number) {
  if (series.stoppedAfter === undefined && series.values.length === 0 && series.lost >= 3) series.stoppedAfter = revocations;
}

/** One revocation, watched by an open session and by new connections at once; times in ms after the revoke response. */
/** What the MTA reads: the pulled file, and the text that is in it while the certificate is listed. */
interface Pulled {
  file: string;
  entry(target: Target): string;
}

/** Polls the pulled file every 2 ms until it no longer holds the target; ms after the revoke response, or undefined. */
async function untilPulled(pulled: Pulled, target: Target, revokedAt: number): Promise<number | undefined> {
  const entry = pulled.entry(target);
  while (performance.now() - revokedAt < GIVE_UP_MS) {
    const text = await readFile(pulled.file, 'utf8').catch(() => '');
    if (text && !text.includes(entry)) return performance.now() - revokedAt;
    await sleep(2);
  }
  return undefined;
}

async function measureOne(ctx: BenchContext, fx: Fixture, port: number, pulled: Pulled, target: Target, samples: Samples, revocations: number): Promise<void> {
  const open = await openSmtpSession(port, target);
  try {
    const mail = await open.command(`MAIL FROM:<${fx.owner}>`);
    const first = await open.command(`RCPT TO:<${RECIPIENT}>`);
    if (mail.code !== 250 || first.code !== 250) throw new Error(`certificate ${target.serial} not accepted before its revocation: ${(mail.code !== 250 ? mail : first).text.trim()}`);
    const before = await freshAttempt(port, target, fx.owner);
    if (before.kind !== 'accepted') throw new Error(`certificate ${target.serial} not accepted on a new connection before its revocation: ${before.text}`);

    if (!(await readFile(pulled.file, 'utf8')).includes(pulled.entry(target))) throw new Error(`certificate ${target.serial} is not in ${path.basename(pulled.file)} before its revocation`);

    const error = await revokeOverHttp(fx.agent, fx.url, fx.adminToken, target.serial);
    const revokedAt = performance.now();
    if (error) throw new Error(`revoke: ${error}`);

    let inTransaction = 1;
    const openRcpt = async (): Promise<Attempt> => {
      // Stay well under the MTAs' recipients-per-message limits (Postfix: 1,000).
      if (++inTransaction >= 500) {
        await open.command('RSET');
        await open.command(`MAIL FROM:<${fx.owner}>`);
        inTransaction = 1;
      }
      return classify(await open.command(`RCPT TO:<${RECIPIENT}>`));
    };
    const [pulledAt, openAt, freshAt] = await Promise.all([
      untilPulled(pulled, target, revokedAt),
      samples.open.stoppedAfter === undefined ? untilRefused(samples.open, revokedAt, openRcpt) : undefined,
      samples.fresh.stoppedAfter === undefined ? untilRefused(samples.fresh, revokedAt, () => freshAttempt(port, target, fx.owner)) : undefined,
    ]);
    if (pulledAt !== undefined) samples.pulled.push(pulledAt);
    const show = (at: number | undefined) => (at === undefined ? 'not within the give-up time' : `${at.toFixed(0)} ms`);
    if ([pulledAt, openAt, freshAt].some((at) => at !== undefined && at > TARGET_MS)) {
      ctx.progress(`slow revocation ${revocations}: pulled file ${show(pulledAt)}, open session ${show(openAt)}, new connection ${show(freshAt)}`);
    }
    for (const [series, at] of [[samples.open, openAt], [samples.fresh, freshAt]] as const) {
      if (series.stoppedAfter !== undefined) continue;
      record(series, at);
      if (at !== undefined && pulledAt !== undefined) series.afterPull.push(at - pulledAt);
      stopIfNeverRefused(series, revocations);
    }
  } finally {
    await open.quit();
  }
}

function rowsFor(variant: Variant, samples: Samples, context: string): Row[] {
  const rows: Row[] = [];
  for (const [way, series] of [
    [WAYS[0], samples.open],
    [WAYS[1], samples.fresh],
  ] as const) {
    // A revocation never refused counts as the give-up time (so the figure is a lower bound).
    const all = [...series.values, ...Array<number>(series.lost).fill(GIVE_UP_MS)];
    const note =
      `${all.length} revocations, ${context}; ${series.attempts} attempts in all, one every ~${RETRY_PAUSE_MS} ms + a round trip` +
      (samples.pulled.length ? `; the pulled file dropped the certificate after p50 ${fmt(percentile(samples.pulled, 50))} ms, p99 ${fmt(percentile(samples.pulled, 99))} ms` : '') +
      (series.afterPull.length ? `, the refusal came p50 ${fmt(percentile(series.afterPull, 50))} ms, p99 ${fmt(percentile(series.afterPull, 99))} ms after that` : '') +
      (series.atHandshake ? `; ${series.atHandshake} refused at the TLS handshake (CRL), the rest at RCPT` : '') +
      (series.other.length ? `; ${series.other.length} other answers retried (first: ${series.other[0]!.slice(0, 80)})` : '') +
      (series.lost ? `; ${series.lost} not refused within ${GIVE_UP_MS / 1000} s (counted as ${GIVE_UP_MS / 1000} s)` : '') +
      (series.stoppedAfter !== undefined ? `; never refused, so not tried after the first ${series.stoppedAfter}` : '');
    const figure = `revoke response → ${variant.label} refuses RCPT, ${way}`;
    rows.push(row({ measurement: M, figure: `${figure}, p50`, value: percentile(all, 50), unit: 'ms', note }));
    rows.push(row({ measurement: M, figure: `${figure}, p99`, value: percentile(all, 99), unit: 'ms', target: { kind: 'below', limit: TARGET_MS }, note }));
  }
  return rows;
}

const emptySeries = (): Series => ({ values: [], lost: 0, attempts: 0, atHandshake: 0, other: [], afterPull: [] });
const emptySamples = (): Samples => ({ open: emptySeries(), fresh: emptySeries(), pulled: [] });
/** Neither way sees refusals: do not spend minutes proving it. */
const stuck = (s: Samples) => s.open.stoppedAfter !== undefined && s.fresh.stoppedAfter !== undefined;

/** A running private MTA instance of the variant's kind. */
interface RunningMta {
  stop(): void;
  log(): string;
  /** `postfix reload`s seen in the log (Postfix only: Exim has none). */
  reloads?(): number;
}

async function startMta(mta: Variant['mta'], dir: string, config: string): Promise<RunningMta> {
  switch (mta) {
    case 'postfix':
      return startPostfix(dir, config);
    case 'exim': {
      const exim = new EximInstance(dir);
      await exim.start(config);
      return exim;
    }
    default: {
      const unknown: never = mta;
      throw new Error(`no private instance for ${String(unknown)}`);
    }
  }
}

async function measureMta(ctx: BenchContext, fx: Fixture, name: VariantName): Promise<Row[]> {
  const variant: Variant = VARIANTS[name];
  const unavailable = mtaUnavailable(variant.mta);
  if (unavailable) throw new Error(unavailable);
  const port = variant.port;
  for (const p of variant.policyService ? [port, POLICY_SERVICE_PORT] : [port]) if (await portInUse(p)) throw new Error(`127.0.0.1:${p} is already in use`);
  const files = path.join(fx.dir, `files-${name}`);
  mkdirSync(files, { recursive: true, mode: 0o755 });
  const pull = await PullWatch.start(
    ['--url', fx.url, '--token-file', fx.tokenFile, '--ca-out', path.join(files, 'ca.pem'), ...variant.pullArgs(files), '--watch'],
    (out) => / updated /.test(out) && (!variant.policyService || out.includes('policy service listening')),
  );
  const samples = emptySamples();
  let context: string;
  try {
    const config = await mtaConfig(fx, variant, files);
    let instance: RunningMta | undefined;
    try {
      instance = await startMta(variant.mta, path.join(fx.dir, name), config);
      await waitListening(port);
      const reloads = instance.reloads?.();
      ctx.progress(`${variant.label}: policy ${POLICY} on 127.0.0.1:${port}${variant.policyService ? `, policy service on 127.0.0.1:${POLICY_SERVICE_PORT}` : ''}`);
      await measureAll(ctx, fx, port, variant.pulled(files), fx.targets[name], samples);
      const reloaded = reloads === undefined ? undefined : (instance.reloads?.() ?? 0) - reloads;
      context = `${variant.mta} policy ${POLICY} (mta-config), ${variant.context}${reloaded === undefined ? '' : reloaded === 0 ? ', no postfix reload' : `, ${reloaded} RELOADS seen in the log`}`;
    } catch (e) {
      const log = instance?.log().trim().split('\n').slice(-1)[0];
      throw new Error(`${errorText(e)}${log ? ` (${variant.mta} log: ${log.slice(0, 120)})` : ''}`);
    } finally {
      instance?.stop();
    }
  } finally {
    await pull.stop();
  }
  return rowsFor(variant, samples, context);
}

async function measureAll(ctx: BenchContext, fx: Fixture, port: number, pulled: Pulled, targets: readonly Target[], samples: Samples): Promise<void> {
  for (const [i, target] of targets.entries()) {
    await measureOne(ctx, fx, port, pulled, target, samples, i + 1);
    if (stuck(samples)) break;
    await sleep(50);
  }
}

export const mta: Measurement = {
  id: M,
  title: 'revocation → MTA refuses the next RCPT',
  async run(ctx) {
    const perMta = ctx.quick ? 5 : 30;
    let setup: Awaited<ReturnType<typeof setUp>>;
    try {
      setup = await setUp(ctx, perMta);
    } catch (e) {
      return VARIANT_NAMES.flatMap((v) => figuresFor(v).map((f) => notAvailable(M, f, errorText(e))));
    }
    const rows: Row[] = [];
    try {
      for (const v of VARIANT_NAMES) {
        try {
          rows.push(...(await measureMta(ctx, setup.fx, v)));
        } catch (e) {
          rows.push(...figuresFor(v).map((f) => notAvailable(M, f, errorText(e))));
        }
      }
    } finally {
      await setup.stop();
    }
    return rows;
  },
};
