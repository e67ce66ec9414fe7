import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { pino } from 'pino';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig, type Config, type ConfigInput } from '../../src/config.ts';
import type { Actor } from '../../src/enrolment/context.ts';
import { createToken } from '../../src/enrolment/tokens.ts';
import { addUser } from '../../src/enrolment/users.ts';
import { openMailca, serve, type Mailca, type RunningServer } from '../../src/main.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const testActor: Actor = { id: 'test', sourceIp: null };
export const PASSWORD = 'correct horse battery staple';

export function testConfig(db: TestDatabase, overrides: Partial<ConfigInput> = {}): Config {
  return loadConfig(
    {},
    {
      dataDir: db.dataDir,
      databaseUrl: db.databaseUrl,
      listen: '127.0.0.1:0',
      caPassphrase: 'test passphrase for the CA key',
      logLevel: 'silent',
      ...overrides,
    },
  );
}

/** mailca on a fresh database with a CA, driven directly (no HTTP). */
export async function startMailca(overrides: Partial<ConfigInput> = {}, clock = new ManualClock()): Promise<{ m: Mailca; db: TestDatabase; clock: ManualClock; stop(): Promise<void> }> {
  const db = await createTestDatabase();
  const config = testConfig(db, overrides);
  const m = await openMailca(config, { clock, log: pino({ level: 'silent' }), createCaIfMissing: true });
  return {
    m,
    db,
    clock,
    async stop() {
      await m.close();
      await db.drop();
    },
  };
}

/** mailca serving HTTP on 127.0.0.1 (random port) on a fresh database. */
export async function startServer(overrides: Partial<ConfigInput> = {}, clock = new ManualClock()): Promise<{ server: RunningServer; m: Mailca; db: TestDatabase; clock: ManualClock; url: string; stop(): Promise<void> }> {
  const db = await createTestDatabase();
  const config = testConfig(db, overrides);
  const server = await serve(config, { clock, log: pino({ level: 'silent' }), scheduler: false });
  return {
    server,
    m: server.mailca,
    db,
    clock,
    url: server.url,
    async stop() {
      await server.stop();
      await db.drop();
    },
  };
}

/**
 * Resolves once the CRL the server at `url` publishes lists `serial`. A server re-signs its CRL within a
 * second of a revocation (the allow-lists follow at once), so a test that reads the CRL right after revoking
 * waits for it here.
 */
export async function untilCrlLists(url: string, serial: string, timeoutMs = 10_000): Promise<void> {
  const want = serial.replace(/^0+/, '').toLowerCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pem = await (await fetch(`${url}/crl.pem`)).text();
    const crls = [...pem.matchAll(/-----BEGIN X509 CRL-----([^-]+)-----END X509 CRL-----/g)].map((m) => AsnConvert.parse(Buffer.from(m[1]!, 'base64'), CertificateList));
    const serials = crls.flatMap((c) => (c.tbsCertList.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate).toString('hex').replace(/^0+/, '')));
    if (serials.includes(want)) return;
    if (Date.now() > deadline) throw new Error(`the CRL at ${url} does not list ${serial} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function addTestUser(m: Mailca, email: string, opts: { admin?: boolean } = {}) {
  return addUser(m.ctx, testActor, { email, password: PASSWORD, isAdmin: opts.admin ?? false });
}

export async function addTestToken(m: Mailca, role: 'admin' | 'mta', name = `${role}-token`): Promise<string> {
  return (await createToken(m.ctx, testActor, { role, name })).token;
}

export type KeySpec = 'P-256' | 'P-384' | 'RSA-2048' | 'RSA-1024' | 'P-521' | 'ed25519';

/** A key and CSR made by the openssl CLI, the way a user of openssl would make them. */
export function opensslCsr(dir: string, name: string, key: KeySpec = 'P-256', subject = '/CN=someone@example.test'): { keyFile: string; csrFile: string; csrPem: string } {
  const keyFile = path.join(dir, `${name}.key`);
  const csrFile = path.join(dir, `${name}.csr`);
  const keyArgs: Record<KeySpec, string[]> = {
    'P-256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    'P-384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
    'P-521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
    'RSA-2048': ['-newkey', 'rsa:2048'],
    'RSA-1024': ['-newkey', 'rsa:1024'],
    ed25519: ['-newkey', 'ed25519'],
  };
  execFileSync('openssl', ['req', '-new', ...keyArgs[key], '-nodes', '-keyout', keyFile, '-subj', subject, '-addext', 'subjectAltName=email:other@evil.test', '-out', csrFile], { stdio: 'pipe' });
  return { keyFile, csrFile, csrPem: execFileSync('cat', [csrFile]).toString() };
}

/** A CSR for an existing key file. */
export function opensslCsrForKey(keyFile: string, csrFile: string): string {
  execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=reuse', '-out', csrFile], { stdio: 'pipe' });
  return execFileSync('cat', [csrFile]).toString();
}

export function writeText(file: string, text: string): string {
  writeFileSync(file, text);
  return file;
}

/** A cookie-jar HTTP client, like curl -c/-b. */
export class HttpClient {
  private cookies = new Map<string, string>();
  constructor(
    readonly base: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  async request(method: string, pathname: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; json: Record<string, unknown> }> {
    const headers: Record<string, string> = { ...this.headers, ...extraHeaders };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + pathname, { method, headers, body: payload, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = (pair ?? '').split('=');
      if (k) this.cookies.set(k, v ?? '');
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** The same cookie jar against another base URL (another instance behind the same load balancer). */
  at(base: string): HttpClient {
    const other = new HttpClient(base, this.headers);
    other.cookies = this.cookies;
    return other;
  }

  /** The session id inside express-session's signed cookie ("s:<sid>.<signature>"). */
  sessionId(): string | undefined {
    const raw = this.cookies.get('mailca.sid');
    return raw ? /^s:([^.]+)\./.exec(decodeURIComponent(raw))?.[1] : undefined;
  }

  get(p: string, h?: Record<string, string>) {
    return this.request('GET', p, undefined, h);
  }
  post(p: string, body?: unknown, h?: Record<string, string>) {
    return this.request('POST', p, body, h);
  }
  async login(email: string, password = PASSWORD) {
    return this.post('/api/v1/login', { email, password });
  }
}
