import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http, { type Server } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { systemClock, HOUR_MS, MINUTE_MS, type Clock } from './clock.ts';
import { publishDir, type Config } from './config.ts';
import { DatabaseUnavailable, ListenFailed } from './errors.ts';
import type { EnrolmentContext } from './enrolment/context.ts';
import { createApp } from './http/app.ts';
import type { HttpCapabilities } from './http/capabilities.ts';
import { bindEnrolment } from './enrolment/service.ts';
import { CaKeyring, ensureCa } from './issuance/authority.ts';
import type { Pkcs11Settings } from './issuance/pkcs11-signer.ts';
import type { KeyStorage } from './issuance/signer-loader.ts';
import { resolveCaPassphrase } from './issuance/passphrase.ts';
import { Publisher, publishedReads } from './publishers/publish.ts';
import { startScheduler } from './scheduler.ts';
import { supersedeDue } from './enrolment/renew.ts';
import { unfinishedIssuances } from './enrolment/enrol.ts';
import { smtpMailer, type Mailer } from './notifications/mailer.ts';
import { expiringCas, sendAdminDigest, sendExpiryReminders } from './notifications/reminders.ts';
import { Store } from './store/index.ts';
import { sessionRecords, storeReads } from './store/views.ts';
import { LdapDirectory, ldapSettingsFromConfig } from './directory/ldap-directory.ts';
import { syncDirectory } from './enrolment/directory-sync.ts';
import { buildSignInProviders, prepareSignInProviders } from './http/sign-in/registry.ts';
import { loadTlsIdentity, type TlsIdentity } from './http/tls.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The wired application: the only place that builds and connects the parts. */
export interface Mailca {
  config: Config;
  store: Store;
  keyring: CaKeyring;
  publisher: Publisher;
  ctx: EnrolmentContext;
  log: Logger;
  /** Set when MAILCA_SMTP_URL is configured (reminders, digests). */
  mailer?: Mailer;
  /** The LDAP directory, when MAILCA_SIGN_IN names ldap. */
  directory?: LdapDirectory;
  close(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, redact: ['caPassphrase', 'sessionSecret', 'passphrase', 'password', 'token', 'ldapBindPassword', 'oidcClientSecret', 'pkcs11Pin', 'pin'] });
}

export function sqliteFile(config: Pick<Config, 'dataDir'>): string {
  return path.join(config.dataDir, 'mailca.sqlite');
}

/** The database as people should see it: the SQLite file, or the PostgreSQL URL without its password. */
export function databaseName(config: Pick<Config, 'dataDir' | 'databaseUrl'>): string {
  if (!config.databaseUrl) return sqliteFile(config);
  return redactedUrl(config.databaseUrl);
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * The data dir holds the SQLite database, generated secrets and publish/: only its owner may
 * enter it. It is created 0700, and an existing one with a wider mode is narrowed.
 */
export function secureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if ((statSync(dataDir).mode & 0o077) !== 0) chmodSync(dataDir, 0o700);
}

const PG_HINTS: [RegExp, (u: URL) => string][] = [
  [/^ECONNREFUSED$/, (u) => `is PostgreSQL running and listening on ${u.hostname}:${u.port || 5432}?`],
  [/^(ENOTFOUND|EAI_AGAIN)$/, (u) => `check the host name "${u.hostname}" in DATABASE_URL`],
  [/^(ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/, (u) => `is ${u.hostname} reachable from here (firewall, listen_addresses)?`],
  [/^28P01$/, () => 'check the user name and password in DATABASE_URL'],
  [/^28000$/, () => "PostgreSQL's pg_hba.conf does not let this user connect from this host"],
  [/^3D000$/, (u) => `create it first (createdb ${decodeURIComponent(u.pathname.slice(1)) || '<name>'}) or fix the name in DATABASE_URL`],
];

/** Connects once before migrating, so an unreachable database is one clear line rather than a pool's retries. */
async function checkPostgres(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (e) {
    const err = e as Error & { code?: string };
    const code = err.code ?? '';
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      /* pg parsed it; the hint falls back */
    }
    const hint = (parsed && PG_HINTS.find(([re]) => re.test(code))?.[1](parsed)) ?? 'check DATABASE_URL';
    const reason = (err.message || code || 'connection failed').split('\n')[0]!.replace(url, redactedUrl(url));
    throw new DatabaseUnavailable('database_unavailable', `cannot open the PostgreSQL database ${redactedUrl(url)} (DATABASE_URL): ${reason}; hint: ${hint}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function openStore(config: Config): Promise<Store> {
  secureDataDir(config.dataDir);
  if (config.databaseUrl) await checkPostgres(config.databaseUrl);
  return Store.open({ databaseUrl: config.databaseUrl, sqliteFile: sqliteFile(config) });
}

/**
 * Opens the database (migrating it) and the CA keyring. With `createCaIfMissing` a first run creates
 * the CA, generating a passphrase file if none is configured.
 */
export async function openMailca(
  config: Config,
  opts: { clock?: Clock; log?: Logger; createCaIfMissing?: boolean; newCaKey?: KeyStorage; mailer?: Mailer; publishMode?: 'wait' | 'coalesced' } = {},
): Promise<Mailca> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(config);
  const store = await openStore(config);
  let keyring: CaKeyring | undefined;
  try {
    const hasCa = Boolean(await store.cas.findActive());
    const newCaKey = opts.newCaKey ?? 'file';
    // The passphrase is needed only for file keys: resolved (or, for a first file key, generated) when one is used.
    let passphrase: string | undefined;
    const caPassphrase = (allowGenerate: boolean): string => {
      if (passphrase !== undefined) return passphrase;
      const source = resolveCaPassphrase({ configured: config.caPassphrase, dataDir: config.dataDir, allowGenerate });
      if (source.generatedFile) {
        const warning = `generated a CA key passphrase into ${source.generatedFile} (mode 0600). BACK IT UP and keep it apart from database backups: without it the CA key cannot be used. Set MAILCA_CA_PASSPHRASE to manage it yourself.`;
        log.warn(warning);
        process.stderr.write(`\n*** mailca: ${warning}\n\n`);
      }
      passphrase = source.passphrase;
      return passphrase;
    };
    // Before the first CA exists, commands that need no key (user add, token create…) run without one.
    // With a CA whose key is a file, a missing passphrase is reported at once, as it always was; with
    // none (no CA yet, or token keys only), the first file key gets a generated one.
    const hasFileKey = (await store.cas.listTrusted()).some((ca) => ca.key.kind === 'file');
    if (hasFileKey) caPassphrase(false);
    keyring = new CaKeyring(store, { passphrase: () => caPassphrase(!hasFileKey), pkcs11: pkcs11SettingsOf(config) });
    if (!hasCa && opts.createCaIfMissing) {
      const { ca, created } = await ensureCa(store, keyring, { name: config.caName, keyAlgorithm: config.caKeyAlgorithm, lifetimeDays: config.caLifetimeDays, clock, keyStorage: newCaKey });
      if (created) log.info({ ca: ca.name, fingerprint: ca.fingerprintSha256, keyAlgorithm: ca.keyAlgorithm, key: ca.key.kind }, 'created the CA');
    }
    const publisher = new Publisher({
      store,
      keyring,
      clock,
      log,
      dir: publishDir(config),
      crlLifetimeMs: config.crlLifetimeHours * HOUR_MS,
      portalUrl: portalUrl(config),
      // A server coalesces bursts of changes into one publish every 20 ms at most.
      minIntervalMs: opts.publishMode === 'coalesced' ? 20 : 0,
      crlMinIntervalMs: opts.publishMode === 'coalesced' ? 1_000 : 0,
    });
    const ctx: EnrolmentContext = {
      store,
      clock,
      keyring,
      log,
      policy: {
        certLifetimeDays: config.certLifetimeDays,
        emailProtection: config.emailProtection,
        renewalWindowDays: config.renewalWindowDays,
        renewalOverlapDays: config.renewalOverlapDays,
        crlBaseUrl: config.publicUrl,
      },
      // The change is committed by now: a failed publish is logged and retried by the scheduler
      // rather than reported as a failure of the change itself. A server answers at once and
      // publishes coalesced; a one-shot command waits so its files are current when it exits.
      publish: async () => {
        if (opts.publishMode === 'coalesced') {
          publisher.notify();
          return;
        }
        try {
          await publisher.publish();
        } catch (e) {
          log.error({ err: e }, 'publishing failed; retrying shortly');
          publisher.events.emit('failed');
        }
      },
    };
    const mailer = opts.mailer ?? (config.smtpUrl ? smtpMailer(config.smtpUrl, mailFrom(config)) : undefined);
    const ldapSettings = config.signIn.includes('ldap') ? ldapSettingsFromConfig(config) : undefined;
    return {
      directory: ldapSettings && new LdapDirectory(ldapSettings),
      config,
      store,
      keyring,
      publisher,
      ctx,
      log,
      mailer,
      async close() {
        await publisher.close();
        keyring?.close();
        await store.close();
      },
    };
  } catch (e) {
    keyring?.close();
    await store.close();
    throw e;
  }
}

/** The MAILCA_PKCS11_* settings (used only when a CA key is, or is to be made, in a token). */
export function pkcs11SettingsOf(config: Config): Pkcs11Settings {
  return { module: config.pkcs11Module, tokenLabel: config.pkcs11TokenLabel, pin: config.pkcs11Pin, pinFile: config.pkcs11PinFile, keyLabel: config.pkcs11KeyLabel };
}

/**
 * What the HTTP tier gets: the enrolment functions bound to the context, read-only views of the
 * store and of the published files, and its session rows. Never the context, the keyring, the
 * writable store or the publisher: a route cannot sign, and changes only through enrolment.
 */
export function httpCapabilities(m: Mailca): HttpCapabilities {
  return {
    enrolment: bindEnrolment(m.ctx),
    reads: storeReads(m.store),
    published: publishedReads(m.publisher),
    sessions: sessionRecords(m.store),
    clock: m.ctx.clock,
    log: m.log,
    renewal: { renewalWindowDays: m.ctx.policy.renewalWindowDays },
  };
}

/** Where users enrol: MAILCA_PUBLIC_URL, else the listen address. */
export function portalUrl(config: Config): string {
  return config.publicUrl ? `${config.publicUrl}/` : `${config.tlsCert ? 'https' : 'http'}://${config.listen.host}:${config.listen.port}/`;
}

function mailFrom(config: Config): string {
  return config.mailFrom ?? `mailca@${config.publicUrl ? new URL(config.publicUrl).hostname : 'localhost'}`;
}

/**
 * MAILCA_SESSION_SECRET, or one secret kept in the database (made by the first instance to start),
 * so every instance behind a load balancer accepts the same session cookies.
 */
async function sessionSecret(config: Config, store: Store): Promise<string> {
  if (config.sessionSecret) return config.sessionSecret;
  const legacyFile = path.join(config.dataDir, 'session-secret');
  const initial = existsSync(legacyFile) ? readFileSync(legacyFile, 'utf8').trim() : randomBytes(32).toString('base64url');
  return store.settings.getOrCreate('session_secret', initial);
}

/**
 * One scheduler tick: supersede predecessors whose overlap ended, publish, and say when the next
 * time-driven change is due.
 */
/** The next time-driven change: a validity boundary, CRL refresh, scheduled enforcement, or overlap end. */
export async function nextMaintenanceDue(m: Mailca): Promise<Date | undefined> {
  const now = m.ctx.clock.now().getTime();
  const due = [
    await m.publisher.nextDue(),
    await m.store.certificates.nextSupersession(m.ctx.clock.now()),
    m.mailer ? await m.store.mailLog.nextRetry() : undefined,
  ]
    .filter((d): d is Date => d !== undefined)
    .map((d) => d.getTime());
  return due.length ? new Date(Math.max(now, Math.min(...due))) : undefined;
}

export async function maintenanceTick(m: Mailca): Promise<Date | undefined> {
  await supersedeDue(m.ctx);
  await m.publisher.publish();
  await m.store.sessions.deleteExpired(new Date());
  // Every running instance reads the feed within a second; a day's margin covers any pause.
  await m.store.changes.prune(new Date(Date.now() - 24 * HOUR_MS));
  const reminderDeps = { store: m.store, clock: m.ctx.clock, log: m.log, portalUrl: portalUrl(m.config), reminderDays: m.config.reminderDays, caExpiryWarnDays: m.config.caExpiryWarnDays };
  for (const ca of await expiringCas(reminderDeps)) {
    m.log.warn({ ca: ca.name, id: ca.id, notAfter: ca.notAfter.toISOString() }, 'the CA expires soon: run `mailca ca rotate`');
  }
  const unfinished = await unfinishedIssuances(m.ctx);
  if (unfinished.length) {
    m.log.warn(
      { count: unfinished.length, serials: unfinished.slice(0, 10).map((p) => p.serial), failures: unfinished.slice(0, 3).map((p) => p.failure) },
      'issuances were recorded but not completed (mailca_issuances_unfinished); their certificates were never handed out',
    );
  }
  await syncDirectoryHourly(m);
  if (m.mailer) {
    const run = await sendExpiryReminders({ ...reminderDeps, mailer: m.mailer });
    await sendAdminDigest({ ...reminderDeps, mailer: m.mailer }, run);
    if (run.sent.length || run.failed.length) m.log.info({ sent: run.sent.length, failed: run.failed.length }, 'reminder mails');
  }
  return nextMaintenanceDue(m);
}

const lastDirectorySync = new WeakMap<Mailca, number>();

/** `mailca directory sync` from the scheduler, at most hourly; a directory that cannot be reached is logged, and nobody is disabled. */
async function syncDirectoryHourly(m: Mailca): Promise<void> {
  if (!m.directory || Date.now() - (lastDirectorySync.get(m) ?? -Infinity) < HOUR_MS) return;
  lastDirectorySync.set(m, Date.now());
  try {
    const r = await syncDirectory(m.ctx, { id: 'scheduler:directory-sync', sourceIp: null }, m.directory);
    if (r.disabled.length) m.log.info({ checked: r.checked, disabled: r.disabled.map((d) => d.email) }, 'directory sync disabled users who have left');
  } catch (e) {
    m.log.error({ err: e }, 'directory sync failed; retrying in an hour');
  }
}

export interface RunningServer {
  mailca: Mailca;
  /** What the HTTP tier was given (httpCapabilities). */
  capabilities: HttpCapabilities;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

/** Temporary files of an atomic write (`.<name>.<random>.tmp`) not touched for this long are a crash's leftovers. */
const STALE_TEMP_MS = 60_000;

/** Removes what a crash left in publish/: temporary files of atomic writes, if no writer is still on them. */
export function removeStaleTempFiles(dir: string, log: Logger, now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!/^\..+\.tmp$/.test(name)) continue;
    const file = path.join(dir, name);
    try {
      const st = statSync(file);
      // A CLI command next to this server may be writing one right now: leave fresh ones alone.
      if (!st.isFile() || now - st.mtimeMs < STALE_TEMP_MS) continue;
      rmSync(file, { force: true });
      removed.push(name);
    } catch {
      /* gone meanwhile */
    }
  }
  if (removed.length) log.warn({ dir, files: removed }, 'removed temporary files left in publish/ by an interrupted write');
  return removed;
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (is another mailca or another server running on it?)',
  EADDRNOTAVAIL: 'the address is not on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

/** Listens, or fails with one line naming the address. */
function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      const reason = LISTEN_REASONS[e.code ?? ''] ?? e.message;
      reject(new ListenFailed('listen_failed', `cannot listen on ${where} (MAILCA_LISTEN): ${reason}${e.code ? ` [${e.code}]` : ''}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * mailca's own HTTPS listener: client certificates are asked for (naming mailca's trusted CAs)
 * but never required, so the portal and the API work without one and EST re-enrolment can read
 * the one presented. The CA list follows the published trust bundle (CA rollover, retirement).
 */
async function httpsServer(mailca: Mailca, identity: TlsIdentity, timeouts: http.ServerOptions, app: http.RequestListener): Promise<https.Server> {
  const trustedPems = async () => (await mailca.publisher.trustedCas()).map((ca) => ca.certificatePem);
  let ca = await trustedPems();
  const server = https.createServer({ ...timeouts, cert: identity.cert, key: identity.key, ca, requestCert: true, rejectUnauthorized: false }, app);
  mailca.publisher.events.on('published', () => {
    trustedPems().then(
      (now) => {
        if (now.join('') === ca.join('')) return;
        ca = now;
        server.setSecureContext({ cert: identity.cert, key: identity.key, ca });
        mailca.log.info({ cas: ca.length }, 'the HTTPS listener asks for client certificates of the current CAs');
      },
      (e: unknown) => mailca.log.error({ err: e }, 'updating the HTTPS listener\'s CA list failed'),
    );
  });
  return server;
}

/** `mailca serve`: migrate, create the CA on first run, publish, serve, and keep the lists current. */
export async function serve(config: Config, opts: { clock?: Clock; log?: Logger; scheduler?: boolean; mailer?: Mailer } = {}): Promise<RunningServer> {
  // Checked before anything starts: a bad file is one line naming MAILCA_TLS_CERT or MAILCA_TLS_KEY.
  const tls = loadTlsIdentity(config);
  const mailca = await openMailca(config, { ...opts, createCaIfMissing: true, publishMode: 'coalesced' });
  // Everything started below is stopped again if a later step fails, so a failed start exits.
  const cleanups: (() => Promise<void> | void)[] = [() => mailca.close()];
  const stopAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    // The issuing CA's key is opened before anything is served: a wrong passphrase or PIN stops the start.
    await mailca.keyring.active();
    removeStaleTempFiles(publishDir(config), mailca.log);
    await mailca.publisher.publish();
    // Changes made by other instances, or by the CLI next to this server, reach this one's files too.
    cleanups.push(await mailca.publisher.follow({ pollMs: mailca.store.dialect === 'postgres' ? 1_000 : 100 }));
    const caps = httpCapabilities(mailca);
    const signInProviders = buildSignInProviders({ enrolment: caps.enrolment, reads: caps.reads, log: caps.log, config, directory: mailca.directory });
    await prepareSignInProviders(signInProviders);
    const app = createApp(caps, {
      publicUrl: config.publicUrl,
      sessionSecret: await sessionSecret(config, mailca.store),
      maxLongPolls: config.maxLongPolls,
      sessionIdleMs: config.sessionIdleMinutes * MINUTE_MS,
      trustProxy: config.trustProxy,
      portalUrl: portalUrl(config),
      submission: { smtpHost: config.submissionHost, smtpTlsPort: config.submissionTlsPort, smtpStarttlsPort: config.submissionStarttlsPort, smtpAuth: config.submissionAuth },
      webDir: path.join(PROJECT_ROOT, 'web', 'dist'),
      signInProviders,
    });
    if (!config.publicUrl) {
      mailca.log.warn(`MAILCA_PUBLIC_URL is not set: users are told to enrol at ${portalUrl(config)}, certificates carry no CRL distribution point, and any Origin naming this host is accepted. Set it to the URL people and MTAs use`);
    }
    if (!mailca.mailer) mailca.log.warn('MAILCA_SMTP_URL is not set: no expiry reminders or admin digests will be mailed');
    else if (!config.mailFrom && !config.publicUrl) mailca.log.warn('mail is sent from mailca@localhost, which many relays refuse: set MAILCA_MAIL_FROM');
    const scheduler = opts.scheduler === false ? undefined : startScheduler(() => maintenanceTick(mailca), mailca.log);
    if (scheduler) {
      cleanups.push(() => scheduler.stop());
      // A change can bring a boundary closer (an overlap end, a scheduled enforcement): re-plan.
      mailca.publisher.events.on('published', () => {
        nextMaintenanceDue(mailca).then((due) => due && scheduler.wake(due), (e: unknown) => mailca.log.error({ err: e }, 'planning the next run failed'));
      });
      mailca.publisher.events.on('failed', () => scheduler.wake(new Date(Date.now() + 5_000)));
    }
    // Slow clients cannot hold connections: the headers, then the whole request, must arrive in time
    // (408 and close). Long polls are not affected: their request is complete when they start waiting.
    const timeouts = {
      headersTimeout: config.httpHeadersTimeoutSeconds * 1000,
      requestTimeout: config.httpRequestTimeoutSeconds * 1000,
      connectionsCheckingInterval: Math.min(1_000, config.httpHeadersTimeoutSeconds * 500),
    };
    const server = tls ? await httpsServer(mailca, tls, timeouts, app) : http.createServer(timeouts, app);
    await listen(server, config.listen.host, config.listen.port);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.listen.port;
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    if (tls && tls.notAfter.getTime() < Date.now()) mailca.log.warn({ notAfter: tls.notAfter.toISOString() }, 'the HTTPS certificate in MAILCA_TLS_CERT has expired');
    mailca.log.info({ url, publicUrl: config.publicUrl }, 'mailca is serving');
    return {
      mailca,
      capabilities: caps,
      server,
      url,
      async stop() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await stopAll();
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
