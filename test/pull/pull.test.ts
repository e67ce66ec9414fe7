import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setUserEnforcement } from '../../src/enrolment/enforcement.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { formatFingerprintColons } from '../../src/issuance/encoding.ts';
import type { User } from '../../src/store/index.ts';
import { addTestToken, addTestUser, opensslCsr, startServer, testActor, untilCrlLists } from '../helpers/mailca.ts';

const CLIENT = path.resolve(import.meta.dirname, '../../pull/mailca-pull.mjs');
const BIN = path.resolve(import.meta.dirname, '../../bin/mailca.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the pull client as a mail host would: `node mailca-pull.mjs …`, in `cwd`. */
function run(args: string[], opts: { cwd: string; env?: Record<string, string>; script?: string }): Promise<Run> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env };
  return new Promise((resolve) => {
    execFile(process.execPath, [opts.script ?? CLIENT, ...args], { cwd: opts.cwd, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const mtime = (f: string) => statSync(f).mtimeMs;
const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);
const entries = (text: string) => text.split('\n').filter((l) => l && !l.startsWith('#'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  return Date.now() - start;
}

/** A running `--watch` client with its output collected. */
function startWatch(args: string[], cwd: string): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLIENT, ...args, '--watch'], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => stdout, err: () => stderr, exited };
}

type Server = Awaited<ReturnType<typeof startServer>>;

describe('mailca-pull against a real mailca server', () => {
  let srv: Server;
  let dir: string;
  let token: string;
  let tokenFile: string;
  let alice: User;
  let n = 0;

  async function enrolAlice() {
    const { csrPem } = opensslCsr(dir, `k${n++}`);
    return (await enrol(srv.m.ctx, testActor, { user: alice, csr: csrPem })).record;
  }

  beforeAll(async () => {
    srv = await startServer();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-pull-'));
    alice = await addTestUser(srv.m, 'alice@example.test');
    token = await addTestToken(srv.m, 'mta');
    tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
  });
  afterAll(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pulls, then gets 304 and leaves the files alone, then follows enrolment and revocation', async () => {
    const first = await enrolAlice();
    const work = mkdtempSync(path.join(dir, 'postfix-'));
    const f = (name: string) => path.join(work, name);
    const args = ['--url', srv.url, '--token-file', tokenFile, '--format', 'postfix', '--out', f('allowlist.postfix'), '--ca-out', f('ca.pem'), '--crl-out', f('crl.pem'), '--then', 'echo "ran $MAILCA_PULL_CHANGED" >> marker'];

    const r1 = await run(args, { cwd: work });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout.trim()).toBe('updated ca.pem (1 certificate), crl.pem (1 CRL), allowlist.postfix (1 entry)');
    expect(r1.stderr).toBe('');
    expect(entries(readFileSync(f('allowlist.postfix'), 'utf8'))).toEqual([`${formatFingerprintColons(first.fingerprintSha256)} OK`]);
    expect(readFileSync(f('ca.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(readFileSync(f('crl.pem'), 'utf8')).toMatch(/^-----BEGIN X509 CRL-----\n/);
    expect(lines(f('marker'))).toEqual([`ran ${f('ca.pem')} ${f('crl.pem')} ${f('allowlist.postfix')}`]);
    const state = JSON.parse(readFileSync(f('allowlist.postfix.mailca-pull.json'), 'utf8'));
    expect(Object.keys(state.files).sort()).toEqual(['allowlist', 'ca', 'crl']);
    expect(state.thenPending).toBe(false);

    const before = { list: mtime(f('allowlist.postfix')), ca: mtime(f('ca.pem')), crl: mtime(f('crl.pem')), state: mtime(f('allowlist.postfix.mailca-pull.json')) };
    await sleep(20);
    const r2 = await run(args, { cwd: work });
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout.trim()).toBe('unchanged (304)');
    expect({ list: mtime(f('allowlist.postfix')), ca: mtime(f('ca.pem')), crl: mtime(f('crl.pem')), state: mtime(f('allowlist.postfix.mailca-pull.json')) }).toEqual(before);
    expect(lines(f('marker'))).toHaveLength(1);

    const second = await enrolAlice();
    const r3 = await run(args, { cwd: work });
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stdout.trim()).toBe('updated allowlist.postfix (2 entries); unchanged ca.pem, crl.pem');
    expect(lines(f('marker'))).toEqual([expect.any(String), `ran ${f('allowlist.postfix')}`]);

    await revoke(srv.m.ctx, testActor, { serial: first.serial, reason: 'superseded' });
    await untilCrlLists(srv.url, first.serial);
    const r4 = await run(args, { cwd: work });
    expect(r4.code, r4.stderr).toBe(0);
    expect(r4.stdout.trim()).toBe('updated crl.pem (1 CRL), allowlist.postfix (1 entry); unchanged ca.pem');
    expect(entries(readFileSync(f('allowlist.postfix'), 'utf8'))).toEqual([`${formatFingerprintColons(second.fingerprintSha256)} OK`]);
    expect(lines(f('marker'))).toHaveLength(3);

    // A file changed behind the client's back is fetched in full again (the ETag no longer counts).
    writeFileSync(f('allowlist.postfix'), '# edited by hand\n');
    const r5 = await run(args, { cwd: work });
    expect(r5.code, r5.stderr).toBe(0);
    expect(r5.stdout.trim()).toBe('updated allowlist.postfix (1 entry); unchanged ca.pem, crl.pem');
    expect(entries(readFileSync(f('allowlist.postfix'), 'utf8'))).toHaveLength(1);
  });

  it('exim and json formats and the enforcement tables, token from the environment', async () => {
    await enrolAlice();
    await setUserEnforcement(srv.m.ctx, testActor, { email: 'alice@example.test', state: 'enforced' });
    const work = mkdtempSync(path.join(dir, 'formats-'));
    const env = { MAILCA_PULL_TOKEN: token };
    const exim = await run(['--url', srv.url + '/', '--format', 'exim', '--out', 'allow.exim', '--enforcement-out', 'enforce.exim'], { cwd: work, env });
    expect(exim.code, exim.stderr).toBe(0);
    expect(exim.stdout).toMatch(/^updated allow\.exim \(\d+ entr(y|ies)\), enforce\.exim \(1 entry\)\n$/);
    expect(entries(readFileSync(path.join(work, 'enforce.exim'), 'utf8'))).toEqual(['alice@example.test: enforced']);
    const postfix = await run(['--url', srv.url, '--format', 'postfix', '--out', 'allow.postfix', '--enforcement-out', 'enforce.postfix'], { cwd: work, env });
    expect(postfix.code, postfix.stderr).toBe(0);
    expect(entries(readFileSync(path.join(work, 'enforce.postfix'), 'utf8'))[0]).toMatch(/^alice@example\.test REJECT 5\.7\.1 /);
    const json = await run(['--url', srv.url, '--format', 'json', '--out', 'allow.json'], { cwd: work, env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(work, 'allow.json'), 'utf8')).certificates.length).toBeGreaterThan(0);
  });

  it('dovecot: the passwd-file keyed by serial, the enforcement passwd-file and the CA file with CRLs, via `mailca pull`', async () => {
    const cert = await enrolAlice();
    await setUserEnforcement(srv.m.ctx, testActor, { email: 'alice@example.test', state: 'enforced' });
    const work = mkdtempSync(path.join(dir, 'dovecot-'));
    const args = ['pull', '--url', srv.url, '--token-file', tokenFile, '--format', 'dovecot', '--out', 'allow.dovecot', '--enforcement-out', 'enforce.dovecot', '--ca-crl-out', 'ca-crl.pem'];
    const r = await run(args, { cwd: work, script: BIN, env: { MAILCA_LOG_LEVEL: 'warn' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^updated ca-crl\.pem \(2 PEM blocks\), allow\.dovecot \(\d+ entr(y|ies)\), enforce\.dovecot \(1 entry\)\n$/);
    expect(entries(readFileSync(path.join(work, 'allow.dovecot'), 'utf8'))).toContain(`${cert.serial}:::::::nopassword=yes user=alice@example.test`);
    expect(entries(readFileSync(path.join(work, 'enforce.dovecot'), 'utf8'))).toEqual(['alice@example.test:']);
    const bundle = readFileSync(path.join(work, 'ca-crl.pem'), 'utf8');
    expect(bundle.indexOf('-----BEGIN CERTIFICATE-----')).toBe(0);
    expect(bundle).toContain('-----BEGIN X509 CRL-----');

    await revoke(srv.m.ctx, testActor, { serial: cert.serial, reason: 'keyCompromise' });
    const again = await run(args, { cwd: work, script: BIN, env: { MAILCA_LOG_LEVEL: 'warn' } });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(path.join(work, 'allow.dovecot'), 'utf8')).not.toContain(cert.serial);
    expect(readFileSync(path.join(work, 'ca-crl.pem'), 'utf8')).not.toBe(bundle); // the new CRL
  });

  it('a refused token: exit 1, a clear message without the token, nothing written', async () => {
    const work = mkdtempSync(path.join(dir, 'badtoken-'));
    const bad = 'mca_' + 'x'.repeat(43);
    const r = await run(['--url', srv.url, '--token', bad, '--format', 'postfix', '--out', 'allow', '--then', 'touch marker'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/allow: the server refused the token \(HTTP 401 .*unknown or revoked\)/);
    expect(r.stderr).not.toContain(bad);
    expect(existsSync(path.join(work, 'allow'))).toBe(false);
    expect(existsSync(path.join(work, 'marker'))).toBe(false);
  });

  it('--watch picks up a revocation within about a second (long poll), and SIGTERM stops it cleanly', async () => {
    const cert = await enrolAlice();
    const work = mkdtempSync(path.join(dir, 'watch-'));
    const out = path.join(work, 'allow');
    const w = startWatch(['--url', srv.url, '--token-file', tokenFile, '--format', 'postfix', '--out', out, '--crl-out', 'crl.pem', '--then', 'echo ran >> marker'], work);
    try {
      await until('the first pull', () => w.out().includes('updated'));
      const fp = formatFingerprintColons(cert.fingerprintSha256);
      expect(readFileSync(out, 'utf8')).toContain(fp);
      await sleep(1500); // the client is now inside a long poll
      const crlBefore = readFileSync(path.join(work, 'crl.pem'), 'utf8');
      const t0 = Date.now();
      await revoke(srv.m.ctx, testActor, { serial: cert.serial, reason: 'keyCompromise' });
      const took = await until('the revocation to arrive', () => !readFileSync(out, 'utf8').includes(fp), 10_000);
      console.log(`--watch picked up the revocation ${took} ms after revoke() returned (${Date.now() - t0} ms in all)`);
      expect(took).toBeLessThan(3000);
      await until('--then', () => lines(path.join(work, 'marker')).length === 2);
      expect(readFileSync(path.join(work, 'crl.pem'), 'utf8')).not.toBe(crlBefore); // the same round fetched the new CRL
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exited).toBe(0);
    expect(w.err()).toContain('SIGTERM: stopping');
  });
});

/** A stand-in server that misbehaves on demand. */
describe('mailca-pull keeps the old file on any error', () => {
  const V1 = ['# mailca test list', `${'AB:'.repeat(31)}AB OK`, `${'CD:'.repeat(31)}CD OK`, ''].join('\n');
  const V2 = ['# mailca test list', `${'EF:'.repeat(31)}EF OK`, ''].join('\n');
  let mode = 'ok';
  let body = V1;
  let requests: string[] = [];
  let fake: http.Server;
  let url: string;
  let closedPortUrl: string;
  let dir: string;
  let work: string;
  const out = () => path.join(work, 'allow');
  const marker = () => path.join(work, 'marker');
  const args = (base = url, extra: string[] = []) => ['--url', base, '--token', 'test-token', '--format', 'postfix', '--out', out(), '--then', 'echo ran >> marker', ...extra];

  beforeAll(async () => {
    fake = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      const etag = `"${Buffer.from(body).toString('base64url').slice(-16)}"`;
      switch (mode) {
        case 'ok':
          if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
          return void res.writeHead(200, { etag, 'content-type': 'text/plain' }).end(body);
        case '500':
          return void res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal_error', message: 'internal error; see the server log' }));
        case '401':
          return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_token', message: 'the bearer token is unknown or revoked' }));
        case 'truncated': {
          const full = Buffer.from(V2 + V2);
          res.writeHead(200, { 'content-length': String(full.length + 100), 'content-type': 'text/plain' });
          res.write(full.subarray(0, full.length - 10));
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        case 'no-newline':
          return void res.writeHead(200, { etag: '"nn"' }).end(V2.slice(0, -1));
        case 'garbage':
          return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>\n');
        case 'empty':
          return void res.writeHead(200, { etag: '"empty"' }).end('# mailca test list\n');
        case 'zero-bytes':
          return void res.writeHead(200, { etag: '"zero"' }).end('');
      }
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedPortUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-pull-fake-'));
  });
  afterAll(async () => {
    await new Promise((resolve) => fake?.close(resolve));
    fake?.closeAllConnections();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    mode = 'ok';
    body = V1;
    requests = [];
    work = mkdtempSync(path.join(dir, 'w-'));
    const first = await run(args(), { cwd: work });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe('updated allow (2 entries)');
    expect(lines(marker())).toEqual(['ran']);
    rmSync(marker());
  });

  const cases: [string, RegExp][] = [
    ['500', /allow: HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/api\/v1\/allowlist\?format=postfix: internal error; see the server log; kept the old file/],
    ['401', /allow: the server refused the token \(HTTP 401 .*: the bearer token is unknown or revoked\); kept the old file/],
    ['truncated', /allow: the connection broke while reading the body \(truncated\)/],
    ['no-newline', /is not a valid postfix allow-list: the body does not end with a newline \(truncated\?\)/],
    ['garbage', /is not a valid postfix allow-list: line 1 is not "AA:BB:…:FF OK": "<html><body><h1>502 Bad Gateway<\/h1><\/body><\/html>"/],
    ['empty', /the server sent an empty list but the current file has 2 entries; refusing \(give --allow-empty if that is intended\)/],
    ['zero-bytes', /is not a valid postfix allow-list: the body is empty/],
  ];
  for (const [m, message] of cases) {
    it(`${m}: exit 1, the old file byte for byte, a message, no --then`, async () => {
      const before = readFileSync(out());
      mode = m;
      const r = await run(args(), { cwd: work });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain('test-token');
      expect(readFileSync(out()).equals(before)).toBe(true);
      expect(existsSync(marker())).toBe(false);
    });
  }

  it('network refused: exit 1, the old file kept, no --then', async () => {
    const before = readFileSync(out());
    const r = await run(args(closedPortUrl), { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/allow: cannot reach http:\/\/127\.0\.0\.1:\d+\/api\/v1\/allowlist\?format=postfix: connection refused/);
    expect(readFileSync(out()).equals(before)).toBe(true);
    expect(existsSync(marker())).toBe(false);
  });

  it('--allow-empty accepts the empty list', async () => {
    mode = 'empty';
    const r = await run(args(url, ['--allow-empty']), { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('updated allow (0 entries)');
    expect(readFileSync(out(), 'utf8')).toBe('# mailca test list\n');
    expect(lines(marker())).toEqual(['ran']);
  });

  it('a failing --then: exit 1, and it runs again on the next pull even though nothing changed', async () => {
    body = V2;
    const failed = await run(['--url', url, '--token', 't', '--format', 'postfix', '--out', out(), '--then', 'exit 3'], { cwd: work });
    expect(failed.code).toBe(1);
    expect(failed.stdout.trim()).toBe('updated allow (1 entry)');
    expect(failed.stderr.trim()).toBe('mailca-pull: --then command failed (exit status 3); it runs again on the next pull');
    const again = await run(args(), { cwd: work });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe('unchanged (304)');
    expect(lines(marker())).toEqual(['ran']);
    const third = await run(args(), { cwd: work });
    expect(third.code).toBe(0);
    expect(lines(marker())).toEqual(['ran']);
  });

  it('--watch on a server without long poll: polls about once a second, logs errors and retries, stops on SIGTERM', async () => {
    const w = startWatch(args(), work);
    try {
      await until('the first round', () => w.out().includes('unchanged (304)'));
      mode = '500';
      await until('the error to be logged', () => w.err().includes('retrying in 1s'));
      expect(w.err()).toMatch(/HTTP 500 .*; kept the old file/);
      expect(lines(marker())).toEqual([]);
      body = V2;
      mode = 'ok';
      const took = await until('the new list', () => readFileSync(out(), 'utf8') === V2);
      expect(took).toBeLessThan(5000);
      await until('--then', () => lines(marker()).length === 1);
      requests = [];
      await sleep(2500);
      // No long poll here: about one request a second, with ?wait= offered.
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(requests.length).toBeLessThanOrEqual(4);
      expect(requests[0]).toContain('&wait=25');
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exited).toBe(0);
  });
});

describe('usage', () => {
  const work = os.tmpdir();
  const cases: [string[], RegExp][] = [
    [[], /^mailca-pull: --url is required/],
    [['--url', 'http://x', '--format', 'postfix'], /^mailca-pull: --out is required/],
    [['--url', 'http://x', '--format', 'sendmail', '--out', 'f', '--token', 't'], /--format must be postfix, exim, json or dovecot/],
    [['--url', 'ftp://x', '--format', 'postfix', '--out', 'f', '--token', 't'], /--url must be http\(s\)/],
    [['--url', 'http://x', '--format', 'postfix', '--out', 'f'], /no token: give --token-file FILE, --token TOKEN or MAILCA_PULL_TOKEN/],
    [['--url', 'http://x', '--format', 'postfix', '--out', 'f', '--token', 't', '--token-file', 'x'], /not both/],
    [['--url', 'http://x', '--format', 'postfix', '--out', 'f', '--token-file', '/nonexistent/token'], /cannot read --token-file \/nonexistent\/token: ENOENT/],
    [['--url', 'http://x', '--format', 'json', '--out', 'f', '--token', 't', '--enforcement-out', 'e'], /--enforcement-out needs --format postfix, exim or dovecot/],
    [['--url', 'http://x', '--format', 'postfix', '--out', 'f', '--token', 't', '--ca-out', 'f'], /is given for two outputs/],
    [['--url', 'http://x', '--format', 'postfix', '--out', 'f', '--token', 't', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['--url', 'http://x', '--format', 'postfix', '--out', 'f', '--token', 't', 'extra'], /Unexpected argument 'extra'/],
  ];
  for (const [argv, message] of cases) {
    it(`${argv.join(' ') || '(no arguments)'} → exit 2, one line`, async () => {
      const r = await run(argv, { cwd: work });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  it('--help prints the usage and exits 0, also as `mailca pull --help`', async () => {
    const direct = await run(['--help'], { cwd: work });
    expect(direct.code).toBe(0);
    expect(direct.stdout).toMatch(/^Usage: mailca-pull --url URL/);
    expect(direct.stdout).toContain('--token-file FILE');
    const viaMailca = await run(['pull', '--help'], { cwd: work, script: BIN });
    expect(viaMailca.code, viaMailca.stderr).toBe(0);
    expect(viaMailca.stdout).toBe(direct.stdout);
    const usage = await run(['pull', '--format', 'x'], { cwd: work, script: BIN });
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim()).toBe('mailca-pull: --url is required (see --help)');
  });
});

describe('mailca-pull checks the CA and CRL file', () => {
  it('refuses a CRL before the CA certificates, or a file without CRLs, and keeps the old file', async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'mailca-pull-cacrl-'));
    const ca = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(work, 'ca.key'), '-subj', '/CN=pull test CA', '-days', '2'], { encoding: 'utf8' });
    writeFileSync(path.join(work, 'index.txt'), '');
    writeFileSync(path.join(work, 'crlnumber'), '01\n');
    writeFileSync(path.join(work, 'ca.pem'), ca);
    writeFileSync(path.join(work, 'ca.cnf'), `[ca]\ndefault_ca=c\n[c]\ndatabase=${work}/index.txt\ncrlnumber=${work}/crlnumber\ncertificate=${work}/ca.pem\nprivate_key=${work}/ca.key\ndefault_md=sha256\ndefault_crl_days=2\n`);
    const crl = execFileSync('openssl', ['ca', '-config', path.join(work, 'ca.cnf'), '-gencrl'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    let bundle = ca + crl;
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/allowlist')) return void res.writeHead(200).end(`# list\n${'1'.repeat(32)}:::::::nopassword=yes user=a@example.test\n`);
      res.writeHead(200).end(bundle);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const args = ['--url', url, '--token', 't', '--format', 'dovecot', '--out', 'allow.dovecot', '--ca-crl-out', 'ca-crl.pem'];
      const ok = await run(args, { cwd: work });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toBe('updated ca-crl.pem (2 PEM blocks), allow.dovecot (1 entry)\n');
      for (const [bad, message] of [
        [crl + ca, /ca-crl\.pem: the body .* is not a valid CA and CRL file: a CERTIFICATE block after a X509 CRL block/],
        [ca, /is not a valid CA and CRL file: no -----BEGIN X509 CRL----- block/],
      ] as const) {
        bundle = bad;
        const r = await run(args, { cwd: work });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(readFileSync(path.join(work, 'ca-crl.pem'), 'utf8')).toBe(ca + crl);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(work, { recursive: true, force: true });
    }
  });
});
