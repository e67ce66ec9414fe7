import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestToken, addTestUser, HttpClient, opensslCsr, opensslCsrForKey, startServer, untilCrlLists } from '../helpers/mailca.ts';

type Server = Awaited<ReturnType<typeof startServer>>;

let srv: Server;
let dir: string;
let adminToken: string;
let mtaToken: string;
let alice: HttpClient;
let bob: HttpClient;

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' }).toString();

beforeAll(async () => {
  srv = await startServer({ publicUrl: 'https://ca.example.test', trustProxy: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-api-'));
  await addTestUser(srv.m, 'alice@example.test');
  await addTestUser(srv.m, 'bob@example.test');
  adminToken = await addTestToken(srv.m, 'admin');
  mtaToken = await addTestToken(srv.m, 'mta');
  alice = new HttpClient(srv.url);
  bob = new HttpClient(srv.url);
  expect((await alice.login('alice@example.test')).status).toBe(200);
  expect((await bob.login('bob@example.test')).status).toBe(200);
});

afterAll(async () => {
  await srv?.stop();
});

const admin = () => new HttpClient(srv.url, { authorization: `Bearer ${adminToken}` });
const mta = () => new HttpClient(srv.url, { authorization: `Bearer ${mtaToken}` });

async function enrolAlice(key: Parameters<typeof opensslCsr>[2] = 'P-256', name = `k${Math.random()}`) {
  const { csrPem, keyFile } = opensslCsr(dir, name, key, '/CN=mallory@evil.test/O=Evil');
  const res = await alice.post('/api/v1/enrol', { csr: csrPem, device_label: 'Laptop Thunderbird' });
  expect(res.status, res.text).toBe(201);
  return { ...(res.json as { serial: string; fingerprint_sha256: string; certificate: string; chain: string[] }), keyFile };
}

describe('enrolment', () => {
  it('issues a strict client certificate for the signed-in address, whatever the CSR says', async () => {
    const cert = await enrolAlice();
    expect(cert.serial).toMatch(/^[0-9a-f]{32}$/);
    const certFile = path.join(dir, 'alice.pem');
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(certFile, cert.certificate);
    writeFileSync(caFile, await (await fetch(`${srv.url}/ca.pem`)).text());
    expect(openssl('verify', '-CAfile', caFile, '-purpose', 'sslclient', certFile)).toContain(': OK');
    expect(cert.chain.join('')).toBe(readFileSync(caFile, 'utf8'));

    const text = openssl('x509', '-in', certFile, '-noout', '-text');
    expect(text).toContain(`Subject: serialNumber = ${cert.serial}, CN = alice@example.test\n`);
    expect(text).not.toContain('mallory');
    expect(text).not.toContain('evil');
    expect(text).toMatch(/X509v3 Subject Alternative Name: \n\s+email:alice@example\.test\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    expect(text).toContain('X509v3 Authority Key Identifier');
    expect(text).toContain('X509v3 Subject Key Identifier');
    const caId = (await srv.m.store.cas.findActive())!.id;
    expect(text).toContain(`URI:https://ca.example.test/crl/${caId}.der`);
    const perCa = await fetch(`${srv.url}/crl/${caId}.der`);
    expect(perCa.status).toBe(200);
    expect(perCa.headers.get('content-type')).toContain('application/pkix-crl');
    expect((await fetch(`${srv.url}/crl/999.der`)).status).toBe(404);
    expect((await fetch(`${srv.url}/crl/x.der`)).status).toBe(404);

    const fp = openssl('x509', '-in', certFile, '-noout', '-fingerprint', '-sha256').trim().split('=')[1];
    expect(cert.fingerprint_sha256).toBe(fp);
  });

  it('adds keyEncipherment for RSA keys', async () => {
    const cert = await enrolAlice('RSA-2048');
    writeFileSync(path.join(dir, 'rsa.pem'), cert.certificate);
    expect(openssl('x509', '-in', path.join(dir, 'rsa.pem'), '-noout', '-text')).toMatch(/Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
  });

  it.each([
    ['garbage', 'not a csr at all', 400, 'csr_malformed'],
    ['PEM armour around junk', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', 400, 'csr_malformed'],
  ])('refuses %s with a JSON 4xx', async (_name, csr, status, code) => {
    const res = await alice.post('/api/v1/enrol', { csr });
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ error: code });
    expect(typeof res.json.message).toBe('string');
  });

  it.each([
    ['RSA-1024', 'csr_key_unsupported'],
    ['P-521', 'csr_key_unsupported'],
    ['ed25519', 'csr_key_unsupported'],
  ] as const)('refuses a %s key', async (key, code) => {
    const { csrPem } = opensslCsr(dir, `bad-${key}`, key);
    const res = await alice.post('/api/v1/enrol', { csr: csrPem });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe(code);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const { csrFile } = opensslCsr(dir, 'tamper', 'P-256');
    const der = Buffer.from(openssl('req', '-in', csrFile, '-outform', 'DER').length ? execFileSync('openssl', ['req', '-in', csrFile, '-outform', 'DER']) : Buffer.alloc(0));
    // Flip a bit inside the signed subject (the CN text), leaving the structure intact.
    const i = der.indexOf(Buffer.from('someone'));
    der[i] = der[i]! ^ 0x01;
    const res = await alice.post('/api/v1/enrol', { csr: der.toString('base64') });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('csr_signature_invalid');
  });

  it('refuses an oversized body with 413 and JSON', async () => {
    const res = await alice.post('/api/v1/enrol', { csr: 'A'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.json.error).toBe('body_too_large');
  });

  it('refuses non-JSON bodies, other origins, and missing fields', async () => {
    expect((await alice.post('/api/v1/enrol', 'csr=abc', { 'content-type': 'application/x-www-form-urlencoded' })).json.error).toBe('json_required');
    const cross = await alice.post('/api/v1/enrol', { csr: 'x' }, { origin: 'https://evil.test' });
    expect(cross.status).toBe(403);
    expect(cross.json.error).toBe('bad_origin');
    expect((await alice.post('/api/v1/enrol', { csr: 'x' }, { origin: 'https://ca.example.test' })).json.error).toBe('csr_malformed');
    expect((await alice.post('/api/v1/enrol', {})).json.error).toBe('missing_csr');
    expect((await alice.post('/api/v1/enrol', '{"csr":', {})).json.error).toBe('invalid_json');
  });

  it('needs a session: 401 without one, 403 for a token', async () => {
    const anon = new HttpClient(srv.url);
    const res = await anon.post('/api/v1/enrol', { csr: 'x' });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('unauthenticated');
    expect((await admin().post('/api/v1/enrol', { csr: 'x' })).status).toBe(403);
    expect((await anon.get('/api/v1/me/certificates')).status).toBe(401);
  });
});

describe('sign-in', () => {
  it('signs in only under the address itself, not a spelling that folds to it (U+212A Kelvin sign → k)', async () => {
    await addTestUser(srv.m, 'kim@example.test');
    expect((await new HttpClient(srv.url).login('\u212Aim@example.test')).status).toBe(401);
    expect((await new HttpClient(srv.url).login('KIM@Example.test')).status).toBe(200);
  });

  it('gives the same answer for an unknown user and a wrong password, sets a strict HttpOnly cookie', async () => {
    const c = new HttpClient(srv.url);
    const unknown = await c.login('nobody@example.test', 'whatever-password');
    const wrong = await c.login('bob@example.test', 'wrong-password');
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.json).toEqual(wrong.json);
    const plain = (await new HttpClient(srv.url).login('bob@example.test')).headers.getSetCookie().join(';');
    expect(plain).toMatch(/mailca\.sid=/);
    expect(plain).toMatch(/HttpOnly/);
    expect(plain).toMatch(/SameSite=Strict/);
    expect(plain).not.toMatch(/Secure/);
    // Over HTTPS (here: a trusted TLS-terminating proxy) the cookie is Secure.
    const tls = await new HttpClient(srv.url, { 'x-forwarded-proto': 'https' }).login('bob@example.test');
    expect(tls.headers.getSetCookie().join(';')).toMatch(/Secure/);
  });

  it('rate-limits failed sign-ins per account', async () => {
    await addTestUser(srv.m, 'carol@example.test');
    const c = new HttpClient(srv.url);
    for (let i = 0; i < 5; i++) expect((await c.login('carol@example.test', `bad-${i}`)).status).toBe(401);
    const limited = await c.login('carol@example.test');
    expect(limited.status).toBe(429);
    expect(limited.json.error).toBe('too_many_attempts');
    expect(limited.headers.get('retry-after')).toBeTruthy();
    srv.clock.advance(16 * 60 * 1000);
    expect((await c.login('carol@example.test')).status).toBe(200);
  });

  it('ends a session after inactivity, judged by the server', async () => {
    const c = new HttpClient(srv.url);
    await c.login('bob@example.test');
    expect((await c.get('/api/v1/me')).status).toBe(200);
    // As if MAILCA_SESSION_IDLE_MINUTES had passed since the last request: the stored expiry is past.
    const sid = c.sessionId();
    expect(sid).toBeTruthy();
    await srv.m.store.sessions.touch(sid!, new Date(Date.now() - 1000));
    expect((await c.get('/api/v1/me')).status).toBe(401);
    expect(await srv.m.store.sessions.deleteExpired(new Date())).toBeGreaterThanOrEqual(1);
  });

  it('believes only the one trusted proxy hop for the client address', async () => {
    await new HttpClient(srv.url, { 'x-forwarded-for': '6.6.6.6, 10.9.9.9' }).login('bob@example.test');
    const events = await srv.m.store.audit.list({ limit: 1, offset: 0, action: 'login.success' });
    expect(events.items[0]!.sourceIp).toBe('10.9.9.9');
  });

  it('rate-limits parallel guesses too', async () => {
    await addTestUser(srv.m, 'erin@example.test');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => new HttpClient(srv.url).login('erin@example.test', `guess-${i}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
  });

  it('refuses credentials in the URL', async () => {
    const res = await new HttpClient(srv.url).post('/api/v1/login?email=bob@example.test&password=x', {});
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('credentials_in_url');
  });

  it('signs out', async () => {
    const c = new HttpClient(srv.url);
    await c.login('bob@example.test');
    expect((await c.get('/api/v1/me')).status).toBe(200);
    expect((await c.post('/api/v1/logout')).status).toBe(200);
    expect((await c.get('/api/v1/me')).status).toBe(401);
  });
});

describe('revocation and the allow-lists', () => {
  it('removes a revoked certificate from every published file and allow-list response; ETag gives 304', async () => {
    const cert = await enrolAlice();
    const hex = cert.fingerprint_sha256.replace(/:/g, '');
    const publishDir = path.join(srv.db.dataDir, 'publish');
    // Changes publish coalesced, just after the response: wait for this instance's publish to finish.
    const files = async () => {
      await srv.m.publisher.settled();
      return ['allowlist.postfix', 'allowlist.exim', 'allowlist.json'].map((f) => readFileSync(path.join(publishDir, f), 'utf8')).join('\n');
    };
    expect(await files()).toContain(cert.fingerprint_sha256);
    expect(await files()).toContain(hex);

    const first = await mta().get('/api/v1/allowlist?format=postfix');
    expect(first.status).toBe(200);
    expect(first.text).toContain(`${cert.fingerprint_sha256} OK`);
    const etag = first.headers.get('etag')!;
    expect((await mta().get('/api/v1/allowlist?format=postfix', { 'if-none-match': etag })).status).toBe(304);
    const exim = await mta().get('/api/v1/allowlist?format=exim');
    expect(exim.text).toContain(`${hex}: alice@example.test`);
    const json = await mta().get('/api/v1/allowlist?format=json');
    expect(json.json.certificates).toContainEqual(expect.objectContaining({ serial: cert.serial, address: 'alice@example.test', subject: `CN=alice@example.test,serialNumber=${cert.serial}` }));

    const revoked = await admin().post(`/api/v1/certificates/${cert.serial}/revoke`, { reason: 'keyCompromise' });
    expect(revoked.status).toBe(200);
    expect(await files()).not.toContain(cert.fingerprint_sha256);
    expect(await files()).not.toContain(hex);
    for (const format of ['postfix', 'exim', 'json']) {
      const r = await mta().get(`/api/v1/allowlist?format=${format}`, { 'if-none-match': etag });
      expect(r.status).toBe(200);
      expect(r.text.toUpperCase()).not.toContain(hex);
      expect(r.text).not.toContain(cert.fingerprint_sha256);
    }

    // The CRL lists it (within a second) with its reason and verifies against the CA.
    await untilCrlLists(srv.url, cert.serial);
    writeFileSync(path.join(dir, 'crl.pem'), await (await fetch(`${srv.url}/crl.pem`)).text());
    writeFileSync(path.join(dir, 'ca.pem'), await (await fetch(`${srv.url}/ca.pem`)).text());
    const crl = execFileSync('openssl', ['crl', '-in', path.join(dir, 'crl.pem'), '-CAfile', path.join(dir, 'ca.pem'), '-verify', '-noout', '-text'], { stdio: 'pipe', encoding: 'utf8' });
    expect(crl).toContain(`Serial Number: ${cert.serial.toUpperCase()}`);
    expect(crl).toContain('Key Compromise');
    const der = Buffer.from(await (await fetch(`${srv.url}/crl.der`)).arrayBuffer());
    writeFileSync(path.join(dir, 'crl.der'), der);
    expect(execFileSync('openssl', ['crl', '-inform', 'DER', '-in', path.join(dir, 'crl.der'), '-CAfile', path.join(dir, 'ca.pem'), '-noout'], { stdio: 'pipe', encoding: 'utf8' }) + 'x').toBeTruthy();

    // keyCompromise blocks the key: a new CSR with the same key is refused, whatever its encoding.
    const reuse = opensslCsrForKey(cert.keyFile, path.join(dir, 'reuse.csr'));
    const again = await alice.post('/api/v1/enrol', { csr: reuse });
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('csr_key_blocked');
    const compressedKey = path.join(dir, 'compressed.key');
    execFileSync('openssl', ['ec', '-in', cert.keyFile, '-conv_form', 'compressed', '-out', compressedKey], { stdio: 'pipe' });
    const compressed = await alice.post('/api/v1/enrol', { csr: opensslCsrForKey(compressedKey, path.join(dir, 'compressed.csr')) });
    expect(compressed.json.error).toBe('csr_key_blocked');
  });

  it('stores keys canonically, and keyCompromise revokes every certificate with that key', async () => {
    const { keyFile } = opensslCsr(dir, 'twin', 'P-256');
    const compressedKey = path.join(dir, 'twin-compressed.key');
    execFileSync('openssl', ['ec', '-in', keyFile, '-conv_form', 'compressed', '-out', compressedKey], { stdio: 'pipe' });
    const a = await alice.post('/api/v1/enrol', { csr: opensslCsrForKey(keyFile, path.join(dir, 'twin-a.csr')) });
    const b = await alice.post('/api/v1/enrol', { csr: opensslCsrForKey(compressedKey, path.join(dir, 'twin-b.csr')) });
    expect([a.status, b.status]).toEqual([201, 201]);
    // Both certificates carry the same (uncompressed) key encoding.
    const spki = (pem: string) => execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: pem }).toString();
    expect(spki(b.json.certificate as string)).toBe(spki(a.json.certificate as string));
    const revoked = await admin().post(`/api/v1/certificates/${a.json.serial}/revoke`, { reason: 'keyCompromise' });
    expect(revoked.status).toBe(200);
    // The answer names every certificate the revocation took with it.
    expect(revoked.json.also_revoked).toEqual([b.json.serial]);
    expect((await admin().get(`/api/v1/certificates/${b.json.serial}`)).json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'keyCompromise' });
    expect((await mta().get('/api/v1/allowlist?format=postfix')).text).not.toContain(b.json.fingerprint_sha256 as string);
  });

  it('answers revoke errors: unknown reason 400, twice 409, unknown serial 404', async () => {
    const cert = await enrolAlice();
    expect((await admin().post(`/api/v1/certificates/${cert.serial}/revoke`, { reason: 'bored' })).json.error).toBe('invalid_reason');
    expect((await admin().post(`/api/v1/certificates/${cert.serial}/revoke`, { reason: 'superseded' })).status).toBe(200);
    const twice = await admin().post(`/api/v1/certificates/${cert.serial}/revoke`, { reason: 'superseded' });
    expect(twice.status).toBe(409);
    expect(twice.json.error).toBe('already_revoked');
    expect((await admin().post(`/api/v1/certificates/${'ab'.repeat(16)}/revoke`, { reason: 'superseded' })).status).toBe(404);
    expect((await admin().post(`/api/v1/certificates/zz/revoke`, { reason: 'superseded' })).status).toBe(400);
  });

  it('lets users revoke only their own certificates, with user-level reasons', async () => {
    const cert = await enrolAlice();
    expect((await alice.post(`/api/v1/me/certificates/${cert.serial}/revoke`, { reason: 'cACompromise' })).json.error).toBe('invalid_reason');
    expect((await bob.post(`/api/v1/me/certificates/${cert.serial}/revoke`, {})).status).toBe(404);
    const own = await alice.post(`/api/v1/me/certificates/${cert.serial}/revoke`, {});
    expect(own.status).toBe(200);
    expect((own.json.certificate as { status: string }).status).toBe('revoked');
    expect(own.json.also_revoked).toEqual([]);
  });

  it('self-service keyCompromise lists the certificates with the same key it revoked too', async () => {
    const { keyFile } = opensslCsr(dir, 'lost-device', 'P-256');
    const first = await alice.post('/api/v1/enrol', { csr: opensslCsrForKey(keyFile, path.join(dir, 'lost-1.csr')) });
    const second = await alice.post('/api/v1/enrol', { csr: opensslCsrForKey(keyFile, path.join(dir, 'lost-2.csr')) });
    const third = await alice.post('/api/v1/enrol', { csr: opensslCsrForKey(keyFile, path.join(dir, 'lost-3.csr')) });
    const other = await enrolAlice();
    const lost = await alice.post(`/api/v1/me/certificates/${second.json.serial}/revoke`, { reason: 'keyCompromise' });
    expect(lost.status).toBe(200);
    expect((lost.json.also_revoked as string[]).slice().sort()).toEqual([first.json.serial, third.json.serial].sort());
    expect(lost.json.also_revoked).not.toContain(other.serial);
    const audit = await admin().get(`/api/v1/audit?action=certificate.revoke&target=${second.json.serial}`);
    const details = (audit.json.events as { details: { same_key_revoked?: string[] } }[])[0]?.details;
    expect(details?.same_key_revoked?.slice().sort()).toEqual((lost.json.also_revoked as string[]).slice().sort());
  });

  it('checks roles: mta may only read allow-lists; no token → 401; bad token → 401', async () => {
    expect((await mta().get('/api/v1/certificates')).status).toBe(403);
    expect((await mta().post('/api/v1/users', { email: 'x@example.test' })).status).toBe(403);
    expect((await bob.get('/api/v1/certificates')).status).toBe(403);
    expect((await new HttpClient(srv.url).get('/api/v1/allowlist')).status).toBe(401);
    expect((await new HttpClient(srv.url, { authorization: 'Bearer mca_nope' }).get('/api/v1/allowlist')).status).toBe(401);
    expect((await bob.get('/api/v1/allowlist')).status).toBe(403);
    expect((await mta().get('/api/v1/allowlist?format=sendmail')).status).toBe(400);
  });
});

describe('admin API', () => {
  it('lists, filters and pages certificates; shows one; lists users and audit events', async () => {
    const a = admin();
    const all = await a.get('/api/v1/certificates?email=alice@example.test&limit=2');
    expect(all.status).toBe(200);
    expect((all.json.certificates as unknown[]).length).toBe(2);
    expect(all.json.total as number).toBeGreaterThan(2);
    const revoked = await a.get('/api/v1/certificates?status=revoked');
    expect((revoked.json.certificates as { status: string }[]).every((c) => c.status === 'revoked')).toBe(true);
    expect((await a.get('/api/v1/certificates?status=weird')).status).toBe(400);
    expect((await a.get('/api/v1/certificates?limit=0')).status).toBe(400);
    const one = (all.json.certificates as { serial: string }[])[0]!;
    expect((await a.get(`/api/v1/certificates/${one.serial}`)).json.certificate).toMatchObject({ serial: one.serial });
    expect((await a.get(`/api/v1/certificates/${'cd'.repeat(16)}`)).status).toBe(404);
    expect((await a.get('/api/v1/users')).json.users).toContainEqual(expect.objectContaining({ email: 'alice@example.test' }));
    const audit = await a.get('/api/v1/audit?limit=500');
    const actions = (audit.json.events as { action: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['login.success', 'login.failure', 'certificate.issue', 'certificate.revoke', 'token.create', 'user.add']));
  });

  it('adds and disables users; disabling revokes their certificates and ends their session', async () => {
    const a = admin();
    const created = await a.post('/api/v1/users', { email: 'Dave@Example.test', password: 'a long enough password' });
    expect(created.status).toBe(201);
    expect((await a.post('/api/v1/users', { email: 'dave@example.test' })).status).toBe(409);
    const noPassword = await a.post('/api/v1/users', { email: 'gina@example.test' });
    expect(noPassword.status).toBe(201);
    expect(noPassword.json.generated_password).toMatch(/^\S{20}$/);
    expect((await new HttpClient(srv.url).login('gina@example.test', noPassword.json.generated_password as string)).status).toBe(200);
    expect(created.json.generated_password).toBeUndefined();
    expect((await a.post('/api/v1/users', { email: 'not-an-address' })).status).toBe(400);
    expect((await a.post('/api/v1/users', { email: '#hidden@example.test' })).status).toBe(400);
    const dave = new HttpClient(srv.url);
    expect((await dave.login('dave@example.test', 'a long enough password')).status).toBe(200);
    const { csrPem } = opensslCsr(dir, 'dave', 'P-256');
    const cert = await dave.post('/api/v1/enrol', { csr: csrPem });
    expect(cert.status).toBe(201);
    const disabled = await a.post('/api/v1/users/dave@example.test/disable', {});
    expect(disabled.status).toBe(200);
    expect(disabled.json.revoked_serials).toEqual([cert.json.serial]);
    expect((await a.get(`/api/v1/certificates/${cert.json.serial}`)).json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'affiliationChanged' });
    expect((await dave.get('/api/v1/me')).status).toBe(401);
    // Disabling again is safe: nothing left to revoke.
    const again = await a.post('/api/v1/users/dave@example.test/disable', {});
    expect(again.status).toBe(200);
    expect(again.json.revoked_serials).toEqual([]);
    expect((await a.post('/api/v1/users/nobody@example.test/disable', {})).status).toBe(404);
  });
});

describe('tokens', () => {
  it('admins create, list and revoke tokens; a revoked token gets 401', async () => {
    const created = await admin().post('/api/v1/tokens', { role: 'mta', name: 'mx9' });
    expect(created.status).toBe(201);
    const mx9 = new HttpClient(srv.url, { authorization: `Bearer ${created.json.token}` });
    expect((await mx9.get('/api/v1/allowlist')).status).toBe(200);
    const list = await admin().get('/api/v1/tokens');
    expect(list.json.tokens).toContainEqual(expect.objectContaining({ name: 'mx9', role: 'mta', revoked_at: null }));
    expect(list.text).not.toContain(created.json.token as string);
    expect((await admin().post('/api/v1/tokens/mx9/revoke', {})).json.revoked).toBe(1);
    expect((await mx9.get('/api/v1/allowlist')).status).toBe(401);
    expect((await admin().post('/api/v1/tokens/mx9/revoke', {})).status).toBe(404);
    expect((await mta().post('/api/v1/tokens', { role: 'admin', name: 'escalate' })).status).toBe(403);
  });
});

describe('concurrency', () => {
  it('parallel enrolments and revocations keep every certificate and an intact audit chain', async () => {
    const csrs = Array.from({ length: 12 }, (_, i) => opensslCsr(dir, `par${i}`, 'P-256').csrPem);
    const results = await Promise.all(csrs.map((csr) => alice.post('/api/v1/enrol', { csr })));
    expect(results.map((r) => r.status)).toEqual(csrs.map(() => 201));
    const serials = results.map((r) => r.json.serial as string);
    expect(new Set(serials).size).toBe(serials.length);
    const revokes = await Promise.all(serials.map((s) => admin().post(`/api/v1/certificates/${s}/revoke`, { reason: 'superseded' })));
    expect(revokes.map((r) => r.status)).toEqual(serials.map(() => 200));
    // The same certificate revoked twice at once: exactly one wins.
    const one = await enrolAlice();
    const race = await Promise.all([1, 2, 3].map(() => admin().post(`/api/v1/certificates/${one.serial}/revoke`, { reason: 'superseded' })));
    expect(race.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    expect(await srv.m.store.audit.verify()).toMatchObject({ ok: true });
    const postfix = (await mta().get('/api/v1/allowlist?format=postfix')).text;
    for (const s of [...serials, one.serial]) expect(postfix).not.toContain(s);
  });
});

describe('public endpoints', () => {
  it('serves health, the CA bundle and the CRL with ETags; unknown paths are JSON 404s', async () => {
    expect(await (await fetch(`${srv.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ca = await fetch(`${srv.url}/ca.pem`);
    expect(await ca.text()).toContain('BEGIN CERTIFICATE');
    expect((await fetch(`${srv.url}/ca.pem`, { headers: { 'if-none-match': ca.headers.get('etag')! } })).status).toBe(304);
    const missing = await fetch(`${srv.url}/api/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('not_found');
  });
});
