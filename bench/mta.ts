// 8. Revocation → a real MTA refuses the next RCPT: after the revoke response, how long until a real Postfix
// (generated policy 3 config asking the pull client's policy service, `mailca-pull --format json --watch
// --policy-listen`) and a real Exim (generated policy 3 config, `lsearch,cache=no_rd` on the allow-list that
// `mailca-pull --format exim --watch` keeps) refuse RCPT from that certificate. Measured two ways for each
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
import { EximInstance, mtaUnavailable, portInUse, PostfixInstance, waitListening, writeEximPasswordFile } from './lib/mta.ts';
import { spawnTracked, stopChild } from './lib/processes.ts';
import { errorText, fmt, notAvailable, row, type Row } from './lib/report.ts';
import { benchConfig, startServerProcess } from './lib/server.ts';
import { SmtpSession, type ClientIdentity } from './lib/smtp.ts';

const M = 'mta';
const GIVE_UP_MS = 5_000;
const TARGET_MS = 1_000;
/** Pause between two RCPT attempts (the figures' resolution is this plus one round trip). */
const RETRY_PAUSE_MS = 5;
const POLICY = 3;
/** Away from the test suites' ranges (20400–23130). */
const PORTS = { postfix: 24503, exim: 24523, policyService: 24530 } as const;
const PORTAL_URL = 'https://portal.example.test';
const RECIPIENT = 'someone@example.org';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAILCA_CLI = path.join(REPO, 'bin', 'mailca.mjs');
const PULL_CLIENT = path.join(REPO, 'pull', 'mailca-pull.mjs');

type MtaName = 'postfix' | 'exim';
const LABEL: Record<MtaName, string> = { postfix: 'Postfix (policy service)', exim: 'Exim (lsearch cache=no_rd)' };
const WAYS = ['open session', 'new connection per attempt'] as const;
const figuresFor = (mta: MtaName) => WAYS.flatMap((way) => ['p50', 'p99'].map((p) => `revoke response → ${LABEL[mta]} refuses RCPT, ${way}, ${p}`));

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
  targets: Record<MtaName, Target[]>;
}

function runAsync(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile(command, args, { encoding: 'utf8', env, timeout: 60_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${path.basename(args[0] ?? command)} ${args.slice(1, 3).join(' ')}: ${(stderr || error.message).trim().split('\n').slice(-2).join(' | ')}`));
      else done(stdout);
    });
  });
}

/** `mailca mta-config` for policy 3 on `port`, reading the files the pull client keeps in `filesDir`. */
function mtaConfig(fx: Fixture, mta: MtaName, filesDir: string, port: number): Promise<string> {
  const args = [
    MAILCA_CLI, 'mta-config', '--mta', mta, '--policy', String(POLICY), '--files-dir', filesDir, '--hostname', 'mx.example.test',
    '--tls-cert', fx.serverTls.certFile, '--tls-key', fx.serverTls.keyFile, '--port-tls', String(port), '--port-submission', String(port + 10),
    '--listen', '127.0.0.1', '--postfix-sasl', 'cyrus:smtpd', '--exim-sasl', `lsearch:${fx.eximPasswordFile}`,
    '--policy-service', `inet:127.0.0.1:${PORTS.policyService}`,
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
    const targets: Record<MtaName, Target[]> = { postfix: [], exim: [] };
    for (let i = 0; i < perMta; i++) targets.postfix.push(await enrolOne(i));
    for (let i = 0; i < perMta; i++) targets.exim.push(await enrolOne(perMta + i));
    // Never revoked: the list never becomes empty (the pull client keeps the old file rather than take an empty one).
    await enrolOne(2 * perMta);
    ctx.progress(`enrolled ${2 * perMta + 1} certificates of ${owner}`);

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
    session = await SmtpSession.open(port, client);
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
  const open = await SmtpSession.open(port, target);
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

function rowsFor(mta: MtaName, samples: Samples, context: string): Row[] {
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
    const figure = `revoke response → ${LABEL[mta]} refuses RCPT, ${way}`;
    rows.push(row({ measurement: M, figure: `${figure}, p50`, value: percentile(all, 50), unit: 'ms', note }));
    rows.push(row({ measurement: M, figure: `${figure}, p99`, value: percentile(all, 99), unit: 'ms', target: { kind: 'below', limit: TARGET_MS }, note }));
  }
  return rows;
}

const emptySeries = (): Series => ({ values: [], lost: 0, attempts: 0, atHandshake: 0, other: [], afterPull: [] });
const emptySamples = (): Samples => ({ open: emptySeries(), fresh: emptySeries(), pulled: [] });
/** Neither way sees refusals: do not spend minutes proving it. */
const stuck = (s: Samples) => s.open.stoppedAfter !== undefined && s.fresh.stoppedAfter !== undefined;

async function measureMta(ctx: BenchContext, fx: Fixture, mta: MtaName): Promise<Row[]> {
  const unavailable = mtaUnavailable(mta);
  if (unavailable) throw new Error(unavailable);
  const port = PORTS[mta];
  for (const p of mta === 'postfix' ? [port, PORTS.policyService] : [port]) if (await portInUse(p)) throw new Error(`127.0.0.1:${p} is already in use`);
  const files = path.join(fx.dir, `files-${mta}`);
  mkdirSync(files, { recursive: true, mode: 0o755 });
  const common = ['--url', fx.url, '--token-file', fx.tokenFile, '--ca-out', path.join(files, 'ca.pem')];
  const pull =
    mta === 'postfix'
      ? await PullWatch.start(
          [...common, '--format', 'json', '--out', path.join(files, 'allowlist.json'), '--senders-out', path.join(files, 'senders.postfix'), '--watch', '--policy-listen', `inet:127.0.0.1:${PORTS.policyService}`],
          (out) => out.includes('policy service listening') && / updated /.test(out),
        )
      : await PullWatch.start(
          [...common, '--format', 'exim', '--out', path.join(files, 'allowlist.exim'), '--enforcement-out', path.join(files, 'enforcement.exim'), '--crl-out', path.join(files, 'crl.pem'), '--watch'],
          (out) => / updated /.test(out),
        );
  const samples = emptySamples();
  let context: string;
  try {
    const config = await mtaConfig(fx, mta, files, port);
    const instanceDir = path.join(fx.dir, mta);
    if (mta === 'postfix') {
      const postfix = new PostfixInstance(instanceDir);
      try {
        postfix.start(config);
        await waitListening(port);
        const reloads = postfix.reloads();
        ctx.progress(`Postfix policy ${POLICY} on 127.0.0.1:${port}, policy service on 127.0.0.1:${PORTS.policyService}`);
        await measureAll(ctx, fx, port, { file: path.join(files, 'allowlist.json'), entry: (t) => `"${t.serial}"` }, fx.targets.postfix, samples);
        const reloaded = postfix.reloads() - reloads;
        context = `Postfix policy ${POLICY} (mta-config), pull client's policy service, ${reloaded === 0 ? 'no postfix reload' : `${reloaded} RELOADS seen in the log`}`;
      } finally {
        postfix.stop();
      }
    } else {
      const exim = new EximInstance(instanceDir);
      try {
        await exim.start(config);
        await waitListening(port);
        ctx.progress(`Exim policy ${POLICY} on 127.0.0.1:${port}`);
        await measureAll(ctx, fx, port, { file: path.join(files, 'allowlist.exim'), entry: (t) => `${new X509Certificate(t.certPem).fingerprint256.replaceAll(':', '')}:` }, fx.targets.exim, samples);
        context = `Exim policy ${POLICY} (mta-config), allow-list kept by mailca-pull --watch, no SIGHUP`;
      } catch (e) {
        const log = exim.log().trim().split('\n').slice(-1)[0];
        throw new Error(`${errorText(e)}${log ? ` (exim log: ${log.slice(0, 120)})` : ''}`);
      } finally {
        exim.stop();
      }
    }
  } finally {
    await pull.stop();
  }
  return rowsFor(mta, samples, context);
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
      return (['postfix', 'exim'] as const).flatMap((m) => figuresFor(m).map((f) => notAvailable(M, f, errorText(e))));
    }
    const rows: Row[] = [];
    try {
      for (const m of ['postfix', 'exim'] as const) {
        try {
          rows.push(...(await measureMta(ctx, setup.fx, m)));
        } catch (e) {
          rows.push(...figuresFor(m).map((f) => notAvailable(M, f, errorText(e))));
        }
      }
    } finally {
      await setup.stop();
    }
    return rows;
  },
};
