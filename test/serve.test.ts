import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../src/enrolment/tokens.ts';
import { openMailca, serve } from '../src/main.ts';
import { runMailca } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { testConfig } from './helpers/mailca.ts';

// Starting mailca as an operator does: file modes, start-up failures as one line and an exit,
// warnings, leftovers of a crash, and slow clients.

const BIN = path.resolve(import.meta.dirname, '../bin/mailca.mjs');
const mode = (p: string) => statSync(p).mode & 0o777;

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `mailca serve`. Resolves when it exits, or (with `untilServing`) once it says it is serving,
 * then stops it with SIGTERM and waits for the exit.
 */
function runServe(env: Record<string, string>, opts: { untilServing?: boolean } = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', MAILCA_CA_PASSPHRASE: 'test passphrase for the CA key', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // A start that neither serves nor exits is the failure this guards against.
    const hung = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mailca serve neither served nor exited:\n${stdout}\n${stderr}`));
    }, 90_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (opts.untilServing && stdout.includes('"mailca is serving"')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => {
      clearTimeout(hung);
      resolve({ code, stdout, stderr });
    });
  });
}

let db: TestDatabase;
const dbEnv = (): Record<string, string> => ({ MAILCA_DATA_DIR: db.dataDir, ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : {}) });

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

describe('mailca serve as a process', () => {
  it('a port in use is one line naming the address and a non-zero exit', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const r = await runServe({ ...dbEnv(), MAILCA_LISTEN: `127.0.0.1:${port}` });
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toEqual([`mailca: cannot listen on 127.0.0.1:${port} (MAILCA_LISTEN): the address is already in use (is another mailca or another server running on it?) [EADDRINUSE]`]);
      expect(r.stdout).not.toContain('mailca is serving');
    } finally {
      taken.close();
    }
  });

  it('an address not on this machine is one line and a non-zero exit', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never a local address.
    const r = await runServe({ ...dbEnv(), MAILCA_LISTEN: '192.0.2.1:8080' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual(['mailca: cannot listen on 192.0.2.1:8080 (MAILCA_LISTEN): the address is not on this machine [EADDRNOTAVAIL]']);
  });

  it('a bad configuration value names its variable and exits (MAILCA_TRUST_PROXY=maybe does not hang)', async () => {
    for (const [name, value] of [
      ['MAILCA_TRUST_PROXY', 'maybe'],
      ['MAILCA_LISTEN', '127.0.0.1'],
      ['MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS', 'never'],
      ['MAILCA_MAX_LONG_POLLS', '-5'],
    ] as const) {
      const r = await runServe({ ...dbEnv(), [name]: value });
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(new RegExp(`^mailca: invalid configuration:\\n +${name}: `));
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('an unreachable PostgreSQL is one line naming the database, password hidden, with a hint', async () => {
    const refused = await runServe({ MAILCA_DATA_DIR: db.dataDir, DATABASE_URL: 'postgres://mailca:s3cret-pw@127.0.0.1:1/mailca' });
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('cannot open the PostgreSQL database postgres://mailca:***@127.0.0.1:1/mailca (DATABASE_URL)');
    expect(lines[0]).toContain('hint: is PostgreSQL running and listening on 127.0.0.1:1?');
    expect(refused.stderr).not.toContain('s3cret-pw');
    if (db.databaseUrl) {
      // A server that is there, but a database that is not.
      const missing = new URL(db.databaseUrl);
      missing.pathname = '/mailca_no_such_database';
      missing.password = 'hidden-pw';
      const r = await runServe({ MAILCA_DATA_DIR: db.dataDir, DATABASE_URL: missing.toString() });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('database "mailca_no_such_database" does not exist; hint: create it first (createdb mailca_no_such_database)');
      expect(r.stderr).not.toContain('hidden-pw');
    }
  });

  it('warns at start when MAILCA_PUBLIC_URL is unset, and not when it is set', async () => {
    const unset = await runServe({ ...dbEnv(), MAILCA_LISTEN: '127.0.0.1:0' }, { untilServing: true });
    expect(unset.stdout).toMatch(/MAILCA_PUBLIC_URL is not set: users are told to enrol at http:\/\/127\.0\.0\.1:0\//);
    const set = await runServe({ ...dbEnv(), MAILCA_LISTEN: '127.0.0.1:0', MAILCA_PUBLIC_URL: 'https://ca.example.test' }, { untilServing: true });
    expect(set.stdout).toContain('mailca is serving');
    expect(set.stdout).not.toContain('MAILCA_PUBLIC_URL is not set');
  });
});

describe('files', () => {
  it('keeps the data dir 0700 and the SQLite database 0600, and narrows existing ones', async () => {
    const fresh = await createTestDatabase();
    try {
      chmodSync(fresh.dataDir, 0o755);
      const m = await openMailca(testConfig(fresh), { log: pino({ level: 'silent' }), createCaIfMissing: true });
      await m.close();
      expect(mode(fresh.dataDir)).toBe(0o700);
      if (fresh.kind === 'sqlite') {
        const file = path.join(fresh.dataDir, 'mailca.sqlite');
        expect(mode(file)).toBe(0o600);
        for (const f of readdirSync(fresh.dataDir).filter((n) => n.startsWith('mailca.sqlite'))) expect(mode(path.join(fresh.dataDir, f)), f).toBe(0o600);
        // Made by an older version, or by hand: 0644 and 0755 are narrowed at the next start.
        chmodSync(file, 0o644);
        chmodSync(fresh.dataDir, 0o755);
        const again = await openMailca(testConfig(fresh), { log: pino({ level: 'silent' }) });
        await again.close();
        expect(mode(file)).toBe(0o600);
        expect(mode(fresh.dataDir)).toBe(0o700);
      }
      // A data dir that does not exist yet is made 0700, parents and all.
      const nested = path.join(fresh.dataDir, 'a', 'b');
      const m2 = await openMailca(testConfig(fresh, { dataDir: nested }), { log: pino({ level: 'silent' }), createCaIfMissing: true });
      await m2.close();
      expect(mode(nested)).toBe(0o700);
    } finally {
      await fresh.drop();
    }
  });

  it('removes temporary files a crash left in publish/ at start, and leaves fresh ones to their writer', async () => {
    const fresh = await createTestDatabase();
    try {
      const publish = path.join(fresh.dataDir, 'publish');
      mkdirSync(publish, { recursive: true });
      const stale = ['.allowlist.postfix.0123456789ab.tmp', '.crl.pem.ba9876543210.tmp'];
      const old = new Date(Date.now() - 3_600_000);
      for (const name of stale) {
        writeFileSync(path.join(publish, name), 'half a file');
        utimesSync(path.join(publish, name), old, old);
      }
      writeFileSync(path.join(publish, '.ca.pem.aaaaaaaaaaaa.tmp'), 'being written');
      writeFileSync(path.join(publish, 'notes.tmp'), 'not ours');
      const running = await serve(testConfig(fresh), { log: pino({ level: 'silent' }), scheduler: false });
      await running.stop();
      for (const name of stale) expect(existsSync(path.join(publish, name)), name).toBe(false);
      expect(existsSync(path.join(publish, '.ca.pem.aaaaaaaaaaaa.tmp'))).toBe(true);
      expect(existsSync(path.join(publish, 'notes.tmp'))).toBe(true);
      expect(existsSync(path.join(publish, 'allowlist.postfix'))).toBe(true);
    } finally {
      await fresh.drop();
    }
  });
});

describe('slow clients', () => {
  /** Connects, sends `bytes`, and resolves with what the server said once it closed the connection. */
  function closedAfter(url: string, bytes: string): Promise<string> {
    const u = new URL(url);
    return new Promise((resolve) => {
      const socket = net.connect(Number(u.port), u.hostname);
      let got = '';
      socket.on('data', (c) => (got += c.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
      socket.write(bytes);
    });
  }

  it('closes a connection whose headers, or whose body, do not arrive in time (408)', async () => {
    const fresh = await createTestDatabase();
    const running = await serve(testConfig(fresh, { httpHeadersTimeoutSeconds: 1, httpRequestTimeoutSeconds: 2 }), { log: pino({ level: 'silent' }), scheduler: false });
    try {
      const [headers, body] = await Promise.all([
        closedAfter(running.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '),
        closedAfter(running.url, 'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":'),
      ]);
      expect(headers).toMatch(/^HTTP\/1\.1 408 /);
      expect(body).toMatch(/^HTTP\/1\.1 408 /);
      // The server itself is fine.
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
      // A long poll held longer than the request timeout is answered: its request arrived in time.
      const token = (await createToken(running.mailca.ctx, { id: 'test', sourceIp: null }, { role: 'mta', name: 'slow-test' })).token;
      const auth = { authorization: `Bearer ${token}` };
      const first = await fetch(`${running.url}/api/v1/allowlist?format=postfix`, { headers: auth });
      const etag = first.headers.get('etag') ?? '';
      await first.text();
      const held = await fetch(`${running.url}/api/v1/allowlist?format=postfix&wait=3`, { headers: { ...auth, 'if-none-match': etag } });
      expect(held.status).toBe(304);
    } finally {
      await running.stop();
      await fresh.drop();
    }
  });
});

describe('the CLI and its database', () => {
  it('says which database it created, and warns when that database has no CA', async () => {
    const fresh = await createTestDatabase();
    try {
      const first = await runMailca(fresh, ['user', 'add', 'early@example.test']);
      expect(first.code, first.stderr).toBe(0);
      const where = fresh.databaseUrl ? fresh.databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@') : path.join(fresh.dataDir, 'mailca.sqlite');
      if (fresh.kind === 'sqlite') expect(first.stderr).toContain(`mailca: created a new database: ${where}`);
      expect(first.stderr).toContain(`has no CA: is the server using another ${fresh.kind === 'sqlite' ? 'MAILCA_DATA_DIR' : 'DATABASE_URL'}?`);
      const second = await runMailca(fresh, ['token', 'list']);
      expect(second.stderr).not.toContain('created a new database');
      expect(second.stderr).toContain('has no CA');
      expect((await runMailca(fresh, ['init'])).code).toBe(0);
      const after = await runMailca(fresh, ['token', 'list']);
      expect(after.code).toBe(0);
      expect(after.stderr).toBe('');
    } finally {
      await fresh.drop();
    }
  });
});
