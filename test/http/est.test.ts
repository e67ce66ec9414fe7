import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { rotateCa } from '../../src/issuance/authority.ts';
import { serve } from '../../src/main.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { seededRandom } from '../helpers/seeded-random.ts';
import { PASSWORD, addTestUser, opensslCsr, startServer, testActor, testConfig } from '../helpers/mailca.ts';

const run = promisify(execFile);
type Server = Awaited<ReturnType<typeof startServer>>;

let dir: string;
let tlsCert: string;
let tlsKey: string;
let srv: Server;
let n = 0;

/** A self-signed server certificate for 127.0.0.1, as an operator would make one with openssl. */
function makeServerCertificate(d: string, name: string): { cert: string; key: string } {
  const cert = path.join(d, `${name}.crt`);
  const key = path.join(d, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  return { cert, key };
}

/** A CSR made by openssl (subject someone@example.test, SAN other@evil.test) as RFC 7030 wants it: base64 DER, with line breaks. */
function estCsr(name: string): { keyFile: string; b64File: string } {
  const { keyFile, csrFile } = opensslCsr(dir, name);
  const der = path.join(dir, `${name}.csr.der`);
  const b64File = path.join(dir, `${name}.csr.b64`);
  execFileSync('openssl', ['req', '-in', csrFile, '-outform', 'DER', '-out', der]);
  execFileSync('openssl', ['base64', '-in', der, '-out', b64File]);
  return { keyFile, b64File };
}

interface CurlResult {
  status: number;
  headers: string;
  body: string;
  bodyFile: string;
}

async function curl(url: string, args: string[]): Promise<CurlResult> {
  const id = ++n;
  const headersFile = path.join(dir, `h${id}`);
  const bodyFile = path.join(dir, `b${id}`);
  const { stdout } = await run('curl', ['-sS', '--cacert', tlsCert, '-D', headersFile, '-o', bodyFile, '-w', '%{http_code}', ...args, url]);
  return { status: Number(stdout), headers: readFileSync(headersFile, 'utf8'), body: readFileSync(bodyFile, 'latin1'), bodyFile };
}

const est = (op: string, args: string[] = [], base = srv.url) => curl(`${base}/.well-known/est/${op}`, args);
const enrolArgs = (user: string, password: string, b64File: string) => ['-u', `${user}:${password}`, '--data-binary', `@${b64File}`, '-H', 'Content-Type: application/pkcs10'];
const reenrolArgs = (certFile: string, keyFile: string, b64File: string) => ['--cert', certFile, '--key', keyFile, '--data-binary', `@${b64File}`, '-H', 'Content-Type: application/pkcs10'];

/** The certificates of a base64 certs-only PKCS#7 body, decoded by openssl pkcs7 -print_certs; the PEM file holds them. */
async function pkcs7Certificates(bodyFile: string): Promise<{ pemFile: string; subjects: string[]; issuers: string[] }> {
  const der = `${bodyFile}.p7.der`;
  const pemFile = `${bodyFile}.pem`;
  await run('openssl', ['base64', '-d', '-in', bodyFile, '-out', der]);
  await run('openssl', ['pkcs7', '-inform', 'DER', '-in', der, '-print_certs', '-out', pemFile]);
  const text = readFileSync(pemFile, 'utf8');
  return { pemFile, subjects: [...text.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]!), issuers: [...text.matchAll(/^issuer=(.*)$/gm)].map((m) => m[1]!) };
}

async function x509(pemFile: string, ...args: string[]): Promise<string> {
  return (await run('openssl', ['x509', '-in', pemFile, '-noout', ...args])).stdout;
}

/** Client certificates name the address and their own serial (the login name Dovecot reads). */
const aliceSubject = expect.stringMatching(/^serialNumber = [0-9a-f]{32}, CN = alice@example\.test$/);

const serialOf = async (pemFile: string) => (await x509(pemFile, '-serial')).trim().replace(/^serial=/, '').toLowerCase();

/** An HTTP request typed into `openssl s_client`, as RFC 7030's examples do. */
function sClient(port: string, request: string, extra: string[] = [], waitForServer = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', tlsCert, ...(waitForServer ? ['-ign_eof'] : []), ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.on('error', reject);
    child.on('close', () => resolve(out));
    child.stdin.end(request);
  });
}

/** One request through node:https (trusting the test's server certificate): status and body. */
function httpsRequest(pathname: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${srv.url}${pathname}`, { method: 'POST', headers, ca: readFileSync(tlsCert) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('latin1')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Alice's first certificate, enrolled in beforeAll. */
let first: { certFile: string; keyFile: string; serial: string };

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-est-'));
  ({ cert: tlsCert, key: tlsKey } = makeServerCertificate(dir, 'server'));
  // 90-day certificates: renewal opens 30 days before expiry.
  srv = await startServer({ tlsCert, tlsKey, certLifetimeDays: 90, renewalWindowDays: 30 });
  await addTestUser(srv.m, 'alice@example.test');
  await addTestUser(srv.m, 'carol@example.test');
  const csr = estCsr('alice1');
  const res = await est('simpleenroll', enrolArgs('alice@example.test', PASSWORD, csr.b64File));
  expect(res.status, res.body).toBe(200);
  const { pemFile } = await pkcs7Certificates(res.bodyFile);
  first = { certFile: pemFile, keyFile: csr.keyFile, serial: await serialOf(pemFile) };
});
afterAll(async () => {
  await srv?.stop();
});

describe('EST over mailca\'s HTTPS listener', () => {
  it('serves HTTPS when MAILCA_TLS_CERT and MAILCA_TLS_KEY are set', () => {
    expect(srv.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('cacerts: a base64 certs-only PKCS#7 holding the CA, as openssl reads it', async () => {
    const res = await est('cacerts');
    expect(res.status).toBe(200);
    expect(res.headers).toMatch(/^content-type: application\/pkcs7-mime\r$/im);
    expect(res.headers).toMatch(/^content-transfer-encoding: base64\r$/im);
    const { pemFile, subjects } = await pkcs7Certificates(res.bodyFile);
    expect(subjects).toEqual(['CN = mailca client CA']);
    // The same certificate as the published trust bundle.
    const bundle = await curl(`${srv.url}/ca.pem`, []);
    const bundleFile = path.join(dir, 'bundle.pem');
    writeFileSync(bundleFile, bundle.body);
    expect(await x509(pemFile, '-fingerprint', '-sha256')).toBe(await x509(bundleFile, '-fingerprint', '-sha256'));
  });

  it('simpleenroll: a certificate for the signed-in address whatever the CSR says, chaining to the CA', async () => {
    const subject = await x509(first.certFile, '-subject', '-ext', 'subjectAltName');
    expect(subject).toContain('CN = alice@example.test');
    expect(subject).toContain('email:alice@example.test');
    expect(subject).not.toMatch(/someone|evil/);
    const ca = await est('cacerts');
    const { pemFile: caFile } = await pkcs7Certificates(ca.bodyFile);
    expect((await run('openssl', ['verify', '-CAfile', caFile, first.certFile])).stdout).toContain(': OK');
    const stored = await srv.m.store.certificates.findBySerial(first.serial);
    expect(stored?.email).toBe('alice@example.test');
  });

  it('simpleenroll answers application/pkcs7-mime; smime-type=certs-only, and takes the CSR with Content-Transfer-Encoding: base64', async () => {
    const csr = estCsr('alice-cte');
    const res = await est('simpleenroll', [...enrolArgs('alice@example.test', PASSWORD, csr.b64File), '-H', 'Content-Transfer-Encoding: base64']);
    expect(res.status, res.body).toBe(200);
    expect(res.headers).toMatch(/^content-type: application\/pkcs7-mime; smime-type=certs-only\r$/im);
    expect((await pkcs7Certificates(res.bodyFile)).subjects).toEqual([aliceSubject]);
  });

  it('a wrong password is 401 with the Basic challenge; so is no authentication', async () => {
    const csr = estCsr('wrong');
    const wrong = await est('simpleenroll', enrolArgs('alice@example.test', 'not the password', csr.b64File));
    expect(wrong.status).toBe(401);
    expect(wrong.headers).toMatch(/^www-authenticate: Basic realm="mailca EST"\r$/im);
    expect(wrong.body).toBe('invalid email or password\n');
    const none = await est('simpleenroll', ['--data-binary', `@${csr.b64File}`, '-H', 'Content-Type: application/pkcs10']);
    expect(none.status).toBe(401);
    expect(none.headers).toMatch(/^www-authenticate: Basic realm="mailca EST"\r$/im);
    expect(none.body).toMatch(/basic authentication/);
  });

  it('basic authentication shares the sign-in limits with the portal: 5 failures from one address, then 429', async () => {
    const csr = estCsr('carol');
    for (let i = 0; i < 3; i++) {
      const login = await curl(`${srv.url}/api/v1/login`, ['-H', 'Content-Type: application/json', '--data', JSON.stringify({ email: 'carol@example.test', password: 'guess guess guess' })]);
      expect(login.status).toBe(401);
    }
    for (let i = 0; i < 2; i++) expect((await est('simpleenroll', enrolArgs('carol@example.test', 'guess guess guess', csr.b64File))).status).toBe(401);
    const locked = await est('simpleenroll', enrolArgs('carol@example.test', PASSWORD, csr.b64File));
    expect(locked.status).toBe(429);
    expect(locked.headers).toMatch(/^retry-after: 900\r$/im);
    expect(locked.body).toMatch(/too many failed sign-ins/);
  });

  it('a bad CSR is 400 with a text message; so is the wrong content type', async () => {
    const junk = path.join(dir, 'junk.b64');
    writeFileSync(junk, 'MIIBxx-not base64!\n');
    const bad = await est('simpleenroll', enrolArgs('alice@example.test', PASSWORD, junk));
    expect(bad.status).toBe(400);
    expect(bad.headers).toMatch(/^content-type: text\/plain/im);
    expect(bad.body).toMatch(/neither PEM .* nor base64 DER/);
    const notDer = path.join(dir, 'notder.b64');
    writeFileSync(notDer, `${Buffer.from('hello, this is not a CSR').toString('base64')}\n`);
    expect((await est('simpleenroll', enrolArgs('alice@example.test', PASSWORD, notDer))).status).toBe(400);
    const csr = estCsr('ctype');
    const json = await est('simpleenroll', ['-u', `alice@example.test:${PASSWORD}`, '--data-binary', `@${csr.b64File}`, '-H', 'Content-Type: application/json']);
    expect(json.status).toBe(400);
    expect(json.body).toMatch(/application\/pkcs10/);
  });

  it('csrattrs: a DER CsrAttrs naming the key types and signature algorithms mailca accepts', async () => {
    const res = await est('csrattrs');
    expect(res.status).toBe(200);
    expect(res.headers).toMatch(/^content-type: application\/csrattrs\r$/im);
    const der = `${res.bodyFile}.der`;
    await run('openssl', ['base64', '-d', '-in', res.bodyFile, '-out', der]);
    const parsed = (await run('openssl', ['asn1parse', '-inform', 'DER', '-in', der])).stdout;
    for (const name of ['id-ecPublicKey', 'prime256v1', 'secp384r1', 'rsaEncryption', 'ecdsa-with-SHA256', 'sha256WithRSAEncryption']) expect(parsed).toContain(name);
  });

  it('simplereenroll without a client certificate is 401; outside the renewal window 409 saying when it opens', async () => {
    const csr = estCsr('nocert');
    const none = await est('simplereenroll', ['--data-binary', `@${csr.b64File}`, '-H', 'Content-Type: application/pkcs10']);
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/present your current mailca certificate/);
    const early = await est('simplereenroll', reenrolArgs(first.certFile, first.keyFile, csr.b64File));
    expect(early.status).toBe(409);
    expect(early.body).toMatch(/can be renewed from \d{4}-\d\d-\d\d/);
  });

  it('a certificate mailca did not issue does not authenticate', async () => {
    const other = makeServerCertificate(dir, 'stranger');
    const res = await est('simplereenroll', reenrolArgs(other.cert, other.key, estCsr('stranger-csr').b64File));
    expect(res.status).toBe(401);
    expect(res.body).toMatch(/not issued by mailca/);
  });

  it('simplereenroll with the old certificate in the TLS handshake: the successor, for its owner, with a new key', async () => {
    srv.clock.advance(61 * DAY_MS);
    // The same key again is refused, as renewal everywhere refuses it.
    const sameKeyCsr = path.join(dir, 'same.csr.der');
    execFileSync('openssl', ['req', '-new', '-key', first.keyFile, '-subj', '/CN=bob@example.test', '-outform', 'DER', '-out', sameKeyCsr]);
    execFileSync('openssl', ['base64', '-in', sameKeyCsr, '-out', `${sameKeyCsr}.b64`]);
    const same = await est('simplereenroll', reenrolArgs(first.certFile, first.keyFile, `${sameKeyCsr}.b64`));
    expect(same.status).toBe(400);
    expect(same.body).toMatch(/new key/);

    const csr = estCsr('alice2');
    const res = await est('simplereenroll', reenrolArgs(first.certFile, first.keyFile, csr.b64File));
    expect(res.status, res.body).toBe(200);
    expect(res.headers).toMatch(/^content-type: application\/pkcs7-mime; smime-type=certs-only\r$/im);
    const { pemFile, subjects } = await pkcs7Certificates(res.bodyFile);
    expect(subjects).toEqual([aliceSubject]);
    const serial = await serialOf(pemFile);
    const stored = await srv.m.store.certificates.findBySerial(serial);
    expect(stored?.renewalOf).toBe(first.serial);
    expect((await srv.m.store.certificates.findBySerial(first.serial))?.renewedBy).toBe(serial);
    // Renewed once: the old certificate cannot renew again.
    const again = await est('simplereenroll', reenrolArgs(first.certFile, first.keyFile, estCsr('alice3').b64File));
    expect(again.status).toBe(409);
    expect(again.body).toMatch(/already renewed/);
  });

  it('a revoked certificate is refused', async () => {
    const csr = estCsr('doomed');
    const res = await est('simpleenroll', enrolArgs('alice@example.test', PASSWORD, csr.b64File));
    expect(res.status).toBe(200);
    const { pemFile } = await pkcs7Certificates(res.bodyFile);
    const serial = await serialOf(pemFile);
    await revoke(srv.m.ctx, testActor, { serial, reason: 'keyCompromise' });
    srv.clock.advance(61 * DAY_MS); // in its renewal window: only the revocation refuses it
    const refused = await est('simplereenroll', reenrolArgs(pemFile, csr.keyFile, estCsr('doomed2').b64File));
    expect(refused.status).toBe(409);
    expect(refused.body).toContain(`certificate ${serial} is revoked`);
    expect((await srv.m.store.certificates.findBySerial(serial))?.renewedBy).toBeNull();
  });

  it('after a CA rollover the listener asks for the new CA too, and a retiring CA\'s certificate re-enrols through openssl s_client', async () => {
    const csr = estCsr('before-rotation');
    const enrolled = await est('simpleenroll', enrolArgs('alice@example.test', PASSWORD, csr.b64File));
    const { pemFile: oldCert } = await pkcs7Certificates(enrolled.bodyFile);
    await rotateCa(srv.m.store, srv.m.keyring, { name: 'mailca client CA 2', keyAlgorithm: 'P-256', lifetimeDays: 3650, clock: srv.clock, crossSign: true });
    await srv.m.publisher.publish();
    const port = new URL(srv.url).port;
    // The CertificateRequest names the current CAs once the publish has updated the listener.
    let names = '';
    for (let i = 0; i < 50 && !names.includes('mailca client CA 2'); i++) {
      names = (await sClient(port, '', [], false)).split('Acceptable client certificate CA names')[1]?.split('---')[0] ?? '';
    }
    expect(names).toContain('CN = mailca client CA 2');
    expect(names).toContain('CN = mailca client CA\n');

    const cacerts = await est('cacerts');
    const all = await pkcs7Certificates(cacerts.bodyFile);
    expect(all.subjects[0]).toBe('CN = mailca client CA 2'); // the issuing CA first, then the retiring one and the cross certificate
    expect(all.subjects.sort()).toEqual(['CN = mailca client CA', 'CN = mailca client CA 2', 'CN = mailca client CA 2']);

    // A retiring CA's certificate may be renewed at any time; the successor comes from the new CA.
    const body = readFileSync(estCsr('after-rotation').b64File, 'latin1');
    const request = `POST /.well-known/est/simplereenroll HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/pkcs10\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const out = await sClient(port, request, ['-quiet', '-cert', oldCert, '-key', csr.keyFile]);
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r$/m);
    const responseBody = path.join(dir, 'sclient.b64');
    writeFileSync(responseBody, out.slice(out.indexOf('\r\n\r\n') + 4));
    const renewed = await pkcs7Certificates(responseBody);
    expect(renewed.subjects).toEqual([aliceSubject]);
    expect(renewed.issuers).toEqual(['CN = mailca client CA 2']);
  });
});

describe('bad EST input never gets a 500', () => {
  it('seeded mutations of a CSR, and broken Authorization headers', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.MAILCA_FUZZ_SEED ?? 7030);
    const random = seededRandom(seed);
    const der = Buffer.from(readFileSync(estCsr('fuzz').b64File, 'latin1'), 'base64');
    const auth = `Basic ${Buffer.from(`alice@example.test:${PASSWORD}`).toString('base64')}`;
    for (let i = 0; i < 30; i++) {
      const mutated = Buffer.from(der);
      for (let k = 0; k < 1 + Math.floor(random() * 4); k++) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? mutated.subarray(0, Math.floor(random() * mutated.length)) : mutated;
      const res = await httpsRequest('/.well-known/est/simpleenroll', { authorization: auth, 'content-type': 'application/pkcs10' }, Buffer.from(cut.toString('base64')));
      expect(res.status, `mutation #${i} (seed ${seed}): ${res.body}`).toBeLessThan(500);
      expect([200, 400, 413]).toContain(res.status);
    }
    const csr = Buffer.from(der.toString('base64'));
    for (const header of ['Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Bearer abc', `Basic ${Buffer.from(':').toString('base64')}`, `Basic ${Buffer.from('\u0000:\u0000').toString('base64')}`]) {
      const res = await httpsRequest('/.well-known/est/simpleenroll', { authorization: header, 'content-type': 'application/pkcs10' }, csr);
      expect(res.status, header).toBe(401);
    }
    const huge = await httpsRequest('/.well-known/est/simpleenroll', { authorization: auth, 'content-type': 'application/pkcs10' }, Buffer.alloc(200_000, 0x41));
    expect(huge.status).toBe(413);
    const cte = await httpsRequest('/.well-known/est/simpleenroll', { authorization: auth, 'content-type': 'application/pkcs10', 'content-transfer-encoding': 'binary' }, der);
    expect(cte.status).toBe(400);
    expect(cte.body).toMatch(/Content-Transfer-Encoding "binary" is not supported/);
  });
});

describe('EST behind a proxy (plain HTTP)', () => {
  it('enrols with basic authentication, and refuses re-enrolment: no TLS client certificate reaches mailca, and no header stands in for one', async () => {
    const plain = await startServer({ trustProxy: 'loopback' });
    try {
      await addTestUser(plain.m, 'dave@example.test');
      expect(plain.url).toMatch(/^http:/);
      const csr = estCsr('dave');
      const res = await est('simpleenroll', enrolArgs('dave@example.test', PASSWORD, csr.b64File), plain.url);
      expect(res.status, res.body).toBe(200);
      const { pemFile } = await pkcs7Certificates(res.bodyFile);
      const pem = readFileSync(pemFile, 'utf8');
      const refused = await est(
        'simplereenroll',
        ['--data-binary', `@${estCsr('dave2').b64File}`, '-H', 'Content-Type: application/pkcs10', '-H', 'X-Forwarded-Proto: https', '-H', `X-SSL-Client-Cert: ${encodeURIComponent(pem)}`, '-H', `X-Client-Cert: ${encodeURIComponent(pem)}`],
        plain.url,
      );
      expect(refused.status).toBe(403);
      expect(refused.body).toMatch(/behind a proxy that terminates TLS, use simpleenroll/);
    } finally {
      await plain.stop();
    }
  });
});

describe('the HTTPS listener\'s configuration', () => {
  it('MAILCA_TLS_CERT and MAILCA_TLS_KEY go together', () => {
    expect(() => loadConfig({ MAILCA_TLS_CERT: tlsCert })).toThrow(/MAILCA_TLS_KEY .*: required with MAILCA_TLS_CERT/);
    expect(() => loadConfig({ MAILCA_TLS_KEY: tlsKey })).toThrow(/MAILCA_TLS_CERT .*: required with MAILCA_TLS_KEY/);
  });

  it('a missing file, a file that is not a certificate or key, or a key of another certificate stops the start with a line naming the variable', async () => {
    const db = await createTestDatabase();
    const other = makeServerCertificate(dir, 'other');
    const start = (tls: { tlsCert: string; tlsKey: string }) => serve(testConfig(db, tls), { log: pino({ level: 'silent' }), scheduler: false });
    try {
      await expect(start({ tlsCert: path.join(dir, 'absent.crt'), tlsKey: tlsKey })).rejects.toThrow(/^MAILCA_TLS_CERT \(.*absent\.crt\): cannot read it: ENOENT/);
      await expect(start({ tlsCert: tlsKey, tlsKey })).rejects.toThrow(/^MAILCA_TLS_CERT \(.*\): not a PEM certificate/);
      await expect(start({ tlsCert, tlsKey: tlsCert })).rejects.toThrow(/^MAILCA_TLS_KEY \(.*\): not an unencrypted PEM private key/);
      await expect(start({ tlsCert, tlsKey: other.key })).rejects.toThrow(/^MAILCA_TLS_KEY \(.*\): the key does not belong to the certificate in MAILCA_TLS_CERT/);
    } finally {
      await db.drop();
    }
  });
});
