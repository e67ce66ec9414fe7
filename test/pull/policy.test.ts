/**
 * The pull client's Postfix policy service (SMTPD_POLICY_README) and senders socketmap, spoken to over real
 * sockets, fed by JSON lists written here and served by a stand-in HTTP server with mailca's ETag/304 semantics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { entry, jsonText, PolicyConnection, sendersTable, StandInServer, type JsonAllowlist } from './policy-fixtures.ts';

const CLIENT = path.resolve(import.meta.dirname, '../../pull/mailca-pull.mjs');
const PORTAL = 'https://ca.example/';
const ENROL = `REJECT 5.7.1 client certificate required - enrol at ${PORTAL}`;

const alice = entry('alice-laptop', 'alice@example.test', ['alice@example.test', 'al@example.test']);
const bob = entry('bob-phone', 'bob@example.test', undefined);
const carol = entry('carol-old-server', 'carol@example.test', undefined, { oldFormat: true });
const expired = entry('dave-expired', 'dave@example.test', undefined, { notAfter: '2001-01-01T00:00:00.000Z' });
const unknownFingerprint = entry('never-issued', 'mallory@example.test', undefined).fingerprint_sha256;

const LIST: JsonAllowlist = { certificates: [alice, bob, carol, expired], enforced_users: ['alice@example.test', 'bob@example.test'], portal_url: PORTAL };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Watch {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

function startClient(args: string[]): Watch {
  const child = spawn(process.execPath, [CLIENT, '--token', 'mta-token', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  return {
    child,
    output: () => text,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function until(what: string, cond: () => boolean, output: () => string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}\n${output()}`);
    await sleep(20);
  }
}

describe('mailca pull --policy-listen: the Postfix policy service', () => {
  let dir: string;
  let server: StandInServer;
  let url: string;
  let watch: Watch;
  let socketPath: string;
  let listFile: string;
  let sendersFile: string;
  const conns: PolicyConnection[] = [];
  const open = async () => {
    const c = await PolicyConnection.open({ path: socketPath });
    conns.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-policy-'));
    server = new StandInServer();
    server.allowlist = jsonText(LIST);
    server.senders = sendersTable({ 'alice@example.test': ['alice@example.test', 'al@example.test'], 'bob@example.test': ['bob@example.test'], 'erin@example.test': ['erin@example.test'] });
    url = await server.start();
    socketPath = path.join(dir, 'policy.sock');
    listFile = path.join(dir, 'allowlist.json');
    sendersFile = path.join(dir, 'senders.postfix');
    watch = startClient(['--url', url, '--format', 'json', '--out', listFile, '--senders-out', sendersFile, '--watch', '--policy-listen', `unix:${socketPath}`, '--policy-socket-mode', '0666']);
    await until('the first pull', () => /updated .*allowlist\.json \(4 entries\)/.test(watch.output()), watch.output);
  });

  afterEach(() => {
    for (const c of conns.splice(0)) c.close();
  });

  afterAll(async () => {
    await watch?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('listens on the unix socket with the mode asked for', () => {
    expect(statSync(socketPath).isSocket()).toBe(true);
    expect(statSync(socketPath).mode & 0o777).toBe(0o666);
    expect(watch.output()).toContain(`policy service listening on unix:${socketPath}`);
  });

  it('decides on certificate and sender at RCPT, many requests on one connection', async () => {
    const c = await open();
    const mandatory = { policy_context: 'mandatory' };
    const optional = { policy_context: 'optional' };
    // The owner and the aliases of a listed certificate: OK (ends smtpd_relay_restrictions; recipient checks still run).
    expect(await c.ask({ ...mandatory, sender: 'alice@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('OK');
    expect(await c.ask({ ...mandatory, sender: 'AL@Example.Test', ccert_fingerprint: alice.fingerprint_sha256.toLowerCase() })).toBe('OK');
    expect(await c.ask({ ...optional, sender: 'al@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('OK');
    // Another user's address.
    expect(await c.ask({ ...mandatory, sender: 'bob@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe(
      'REJECT 5.7.1 <bob@example.test>: not allowed for this client certificate',
    );
    expect(await c.ask({ ...optional, sender: 'bob@example.test', ccert_fingerprint: alice.fingerprint_sha256, sasl_username: 'alice@example.test' })).toBe(
      'REJECT 5.7.1 <bob@example.test>: not allowed for this client certificate',
    );
    // Certificate of one user, SASL login of another.
    expect(await c.ask({ ...optional, sender: 'bob@example.test', ccert_fingerprint: alice.fingerprint_sha256, sasl_username: 'bob@example.test' })).toBe(
      'REJECT 5.7.1 <bob@example.test>: SASL login does not match the client certificate of alice@example.test',
    );
    expect(await c.ask({ ...optional, sender: 'alice@example.test', ccert_fingerprint: alice.fingerprint_sha256, sasl_username: 'alice@example.test' })).toBe('OK');
    // The null sender from a listed certificate (bounces, receipts): nobody can be impersonated.
    expect(await c.ask({ ...mandatory, sender: '', ccert_fingerprint: bob.fingerprint_sha256 })).toBe('OK');
    // An entry from an older server (no owner/senders): owner = address, senders = [address].
    expect(await c.ask({ ...mandatory, sender: 'carol@example.test', ccert_fingerprint: carol.fingerprint_sha256 })).toBe('OK');
    expect(await c.ask({ ...mandatory, sender: 'bob@example.test', ccert_fingerprint: carol.fingerprint_sha256 })).toBe(
      'REJECT 5.7.1 <bob@example.test>: not allowed for this client certificate',
    );
    // Unknown (revoked, never issued) and expired certificates: refused where certificates are mandatory, fall
    // through where they are optional (a grace user's password may still work; an enforced user's may not).
    for (const fp of [unknownFingerprint, expired.fingerprint_sha256]) {
      expect(await c.ask({ ...mandatory, sender: 'erin@example.test', ccert_fingerprint: fp })).toBe(ENROL);
      expect(await c.ask({ ...optional, sender: 'erin@example.test', ccert_fingerprint: fp, sasl_username: 'erin@example.test' })).toBe('DUNNO');
      expect(await c.ask({ ...optional, sender: 'bob@example.test', ccert_fingerprint: fp, sasl_username: 'bob@example.test' })).toBe(ENROL);
    }
    // No certificate: enforced users' passwords refused with the enrol link, grace users' fall through.
    expect(await c.ask({ ...optional, sender: 'alice@example.test', sasl_username: 'alice@example.test' })).toBe(ENROL);
    expect(await c.ask({ ...optional, sender: 'erin@example.test', sasl_username: 'erin@example.test' })).toBe('DUNNO');
    expect(await c.ask({ ...optional, sender: 'erin@example.test' })).toBe('DUNNO');
    expect(await c.ask({ ...mandatory, sender: 'erin@example.test' })).toBe(ENROL);
    // No policy_context (Postfix < 3.1 or a forgotten setting): mandatory, the safe side.
    expect(await c.ask({ sender: 'erin@example.test', sasl_username: 'erin@example.test' })).toBe(ENROL);
    // A digest other than sha256 never matches.
    expect(await c.ask({ ...mandatory, sender: 'alice@example.test', ccert_fingerprint: 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89' })).toBe(ENROL);
    // Before RCPT there is no decision yet.
    for (const state of ['CONNECT', 'EHLO', 'MAIL', 'DATA', 'END-OF-MESSAGE']) {
      expect(await c.ask({ ...mandatory, protocol_state: state, sender: 'bob@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('DUNNO');
    }
    expect(c.closed).toBe(false);
  });

  it('answers socketmap lookups of the senders table (smtpd_sender_login_maps = socketmap:…:senders)', async () => {
    const c = await open();
    expect(await c.lookup('senders', 'al@example.test')).toBe('OK alice@example.test');
    expect(await c.lookup('senders', 'ERIN@example.test')).toBe('OK erin@example.test');
    expect(await c.lookup('senders', 'nobody@example.test')).toBe('NOTFOUND ');
    expect(await c.lookup('other', 'x')).toMatch(/^PERM /);
  });

  it('a malformed request gets no answer, a log line and a closed connection; so does an endless one', async () => {
    const c = await open();
    expect(await c.ask({ sender: 'alice@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('OK');
    expect(await c.raw('request=smtpd_access_policy\nthis line has no equals sign\n\n')).toBeNull();
    expect(c.closed).toBe(true);
    await until('the log line', () => /policy: malformed request line "this line has no equals sign".*closing the connection/.test(watch.output()), watch.output);

    const wrong = await open();
    expect(await wrong.raw('request=something_else\nprotocol_state=RCPT\n\n')).toBeNull();
    await until('the log line', () => /malformed request: request="something_else"/.test(watch.output()), watch.output);

    const endless = await open();
    expect(await endless.raw(`request=smtpd_access_policy\nccert_subject=${'x'.repeat(40_000)}\n`)).toBeNull();
    await until('the log line', () => /a request longer than 32768 bytes/.test(watch.output()), watch.output);
  });

  it('a pulled list is swapped in atomically: the next RCPT on an open connection sees the removal and the new alias', async () => {
    const c = await open();
    expect(await c.ask({ policy_context: 'mandatory', sender: 'bob@example.test', ccert_fingerprint: bob.fingerprint_sha256 })).toBe('OK');
    expect(await c.ask({ policy_context: 'mandatory', sender: 'alice.new@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toMatch(/^REJECT/);
    const updated = { ...LIST, certificates: [{ ...alice, senders: [...(alice.senders ?? []), 'alice.new@example.test'] }, carol] };
    server.allowlist = jsonText(updated);
    await until('the next pull', () => /updated .*allowlist\.json \(2 entries\)/.test(watch.output()), watch.output);
    expect(await c.ask({ policy_context: 'mandatory', sender: 'bob@example.test', ccert_fingerprint: bob.fingerprint_sha256 })).toBe(ENROL);
    expect(await c.ask({ policy_context: 'optional', sender: 'bob@example.test', ccert_fingerprint: bob.fingerprint_sha256, sasl_username: 'bob@example.test' })).toBe(ENROL);
    expect(await c.ask({ policy_context: 'mandatory', sender: 'alice.new@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('OK');
    expect(c.closed).toBe(false);
    server.allowlist = jsonText(LIST);
    await until('the pull back', () => (watch.output().match(/updated .*allowlist\.json \(4 entries\)/g) ?? []).length >= 2, watch.output);
  });
});

describe('mailca pull --policy-listen while mailca is unreachable', () => {
  it('answers from the file it loaded at start; without a file it answers 451 (default_action-like), never permits', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-policy-offline-'));
    const listFile = path.join(dir, 'allowlist.json');
    writeFileSync(listFile, jsonText(LIST));
    const port = 30000 + (process.pid % 5000) + (process.env.MAILCA_TEST_DB === 'postgres' ? 7 : 0);
    const offline = startClient(['--url', 'http://127.0.0.1:9', '--format', 'json', '--out', listFile, '--watch', '--policy-listen', `inet:127.0.0.1:${port}`]);
    const empty = startClient(['--url', 'http://127.0.0.1:9', '--format', 'json', '--out', path.join(dir, 'missing.json'), '--watch', '--policy-listen', `unix:${path.join(dir, 'p.sock')}`]);
    try {
      // 3: the expired entry is left out of the index.
      await until('listening', () => /policy service listening on inet:127\.0\.0\.1:\d+ \(3 certificates loaded\)/.test(offline.output()), offline.output);
      await until('a failed pull', () => /cannot reach http:\/\/127\.0\.0\.1:9/.test(offline.output()), offline.output);
      const c = await PolicyConnection.open({ port });
      expect(await c.ask({ policy_context: 'mandatory', sender: 'al@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('OK');
      expect(await c.ask({ policy_context: 'mandatory', sender: 'bob@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toMatch(/^REJECT 5\.7\.1 <bob@example\.test>/);
      c.close();

      await until('listening', () => /answering 451 until the first pull lands/.test(empty.output()) && /policy service listening/.test(empty.output()), empty.output);
      const e = await PolicyConnection.open({ path: path.join(dir, 'p.sock') });
      expect(await e.ask({ policy_context: 'optional', sender: 'al@example.test', ccert_fingerprint: alice.fingerprint_sha256 })).toBe('451 4.3.5 mailca allow-list not loaded yet');
      e.close();
    } finally {
      await offline.stop();
      await empty.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses options that cannot work together', async () => {
    const { execFile } = await import('node:child_process');
    const usage = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((done) =>
        execFile(process.execPath, [CLIENT, '--url', 'http://127.0.0.1:9', '--token', 't', '--out', '/tmp/x', ...args], (err, _o, stderr) => done({ code: typeof err?.code === 'number' ? err.code : 0, stderr })),
      );
    expect(await usage(['--format', 'postfix', '--watch', '--policy-listen', 'inet:127.0.0.1:10040'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--policy-listen needs --format json') });
    expect(await usage(['--format', 'json', '--policy-listen', 'inet:127.0.0.1:10040'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--policy-listen needs --watch') });
    expect(await usage(['--format', 'json', '--watch', '--policy-listen', '127.0.0.1:10040'])).toMatchObject({ code: 2, stderr: expect.stringContaining('inet:HOST:PORT or unix:PATH') });
    expect(await usage(['--format', 'json', '--watch', '--policy-listen', 'inet:127.0.0.1:10040', '--policy-socket-mode', '0660'])).toMatchObject({ code: 2, stderr: expect.stringContaining('are for --policy-listen unix:PATH') });
    expect(await usage(['--format', 'json', '--watch', '--policy-listen', 'unix:/tmp/p.sock', '--policy-socket-group', 'no-such-group-here'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no group "no-such-group-here"') });
  });
});
