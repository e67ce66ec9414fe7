import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userFilterFor } from '../../src/directory/ldap-directory.ts';
import { ldapSignIn } from '../../src/http/sign-in/ldap.ts';
import { maintenanceTick } from '../../src/main.ts';
import { syncDirectory } from '../../src/enrolment/directory-sync.ts';
import { runMailca } from '../helpers/cli.ts';
import { ADMIN_GROUP_DN, personDn, TestDirectory } from '../helpers/ldap.ts';
import { addTestUser, testActor, HttpClient, opensslCsr, PASSWORD, startServer, writeText } from '../helpers/mailca.ts';

// One private slapd and one mailca server (MAILCA_SIGN_IN=local,ldap) for the file; the tests run in order.
let ldap: TestDirectory;
let srv: Awaited<ReturnType<typeof startServer>>;
let dir: string;

const DANA = { uid: 'dana', mail: ['dana@example.test', 'dana.alias@example.test', 'Sales@Example.test'], password: 'dana directory password', cn: 'Dana Directory' };
const ERIN = { uid: 'erin', mail: ['erin@example.test'], password: 'erin directory password' };
const FRANK = { uid: 'frank', mail: ['frank@example.test'], password: 'frank directory password' };
const GINA = { uid: 'gina', mail: ['gina@example.test'], password: 'gina directory password' };
// Also a local mailca account with its own password (PASSWORD).
const IVAN = { uid: 'ivan', mail: ['ivan@example.test'], password: 'ivan directory password' };
const JACK = { uid: 'jack', mail: ['jack@example.test'], password: 'jack directory password' };
const ALICE = { uid: 'alice', mail: ['alice@example.test'], password: 'alice directory password' };

beforeAll(async () => {
  ldap = await TestDirectory.start({ people: [DANA, ERIN, FRANK, GINA, ALICE], admins: ['erin'] });
  srv = await startServer({ signIn: 'local,ldap', ...ldap.config() });
  await addTestUser(srv.m, 'alice@example.test');
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-ldap-test-'));
});
afterAll(async () => {
  await srv?.stop();
  await ldap?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const user = (email: string) => srv.m.store.users.findByEmail(email);
const aliases = async (email: string) => (await srv.m.store.aliases.listForUser((await user(email))!.id)).map((a) => a.address).sort();
const lastLogin = async (email: string) => (await srv.m.store.audit.list({ action: 'login.success', target: email, limit: 1, offset: 0 })).items[0];

async function enrolOver(client: HttpClient, name: string): Promise<{ serial: string; subject: string }> {
  const { csrPem } = opensslCsr(dir, name, 'P-256', '/CN=mallory@evil.test');
  const res = await client.post('/api/v1/enrol', { csr: csrPem });
  expect(res.status, res.text).toBe(201);
  const pemFile = writeText(path.join(dir, `${name}.pem`), String(res.json.certificate));
  const subject = execFileSync('openssl', ['x509', '-in', pemFile, '-noout', '-subject', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  return { serial: String(res.json.serial), subject };
}

describe('directory sign-in (LDAP)', () => {
  it('escapes the address in the user filter as RFC 4515 says', () => {
    expect(userFilterFor('(mail={email})', '*)(mail=*')).toBe('(mail=\\2a\\29\\28mail=\\2a)');
    expect(userFilterFor('(&(objectClass=inetOrgPerson)(|(mail={email})(uid={email})))', 'a\\b')).toBe('(&(objectClass=inetOrgPerson)(|(mail=a\\5cb)(uid=a\\5cb)))');
  });

  it('signs a directory user in with the directory password, creates them, and issues for the verified address', async () => {
    expect(await user('dana@example.test')).toBeUndefined();
    expect(await ldap.canBind(personDn('dana'), DANA.password)).toBe(true);
    const dana = new HttpClient(srv.url);
    const res = await dana.login('Dana@Example.test', DANA.password);
    expect(res.status, res.text).toBe(200);
    expect(res.json.user).toMatchObject({ email: 'dana@example.test' });

    const row = await user('dana@example.test');
    expect(row).toMatchObject({ identityProvider: 'ldap', identitySubject: personDn('dana'), passwordHash: null, isAdmin: false, displayName: 'Dana Directory', disabledAt: null });
    expect((await lastLogin('dana@example.test'))?.details).toEqual({ provider: 'ldap' });
    const added = (await srv.m.store.audit.list({ action: 'user.add', target: 'dana@example.test', limit: 1, offset: 0 })).items[0];
    expect(added).toMatchObject({ actor: 'sign-in:ldap', details: { admin: false, provider: 'ldap' } });

    const cert = await enrolOver(dana, 'dana');
    expect(cert.subject).toMatch(/^subject=serialNumber ?= ?[0-9a-f]{32}, CN ?= ?dana@example\.test$/m);
    expect(cert.subject).toContain('email:dana@example.test');
    expect(cert.subject).not.toContain('mallory');
  });

  it("makes the other mail values sender aliases, and follows the directory's changes at the next sign-in", async () => {
    expect(await aliases('dana@example.test')).toEqual(['dana.alias@example.test', 'sales@example.test']);
    await ldap.modify([`dn: ${personDn('dana')}`, 'changetype: modify', 'delete: mail', 'mail: Sales@Example.test', '-', 'add: mail', 'mail: billing@example.test', ''].join('\n'));
    expect((await new HttpClient(srv.url).login('dana@example.test', DANA.password)).status).toBe(200);
    expect(await aliases('dana@example.test')).toEqual(['billing@example.test', 'dana.alias@example.test']);
    expect((await srv.m.store.audit.list({ action: 'user.alias.remove', target: 'dana@example.test', limit: 5, offset: 0 })).items[0]?.actor).toBe('sign-in:ldap');

    // Typing an alias signs the same person in, and certificates are still for the verified address.
    const viaAlias = new HttpClient(srv.url);
    const res = await viaAlias.login('dana.alias@example.test', DANA.password);
    expect(res.status, res.text).toBe(200);
    expect(res.json.user).toMatchObject({ email: 'dana@example.test' });
    expect((await lastLogin('dana.alias@example.test'))?.details).toEqual({ provider: 'ldap', address: 'dana@example.test' });
    expect((await enrolOver(viaAlias, 'dana-via-alias')).subject).toMatch(/^subject=serialNumber ?= ?[0-9a-f]{32}, CN ?= ?dana@example\.test$/m);
    expect(await user('dana.alias@example.test')).toBeUndefined();
  });

  it('refuses a wrong password (401) and an empty one', async () => {
    const c = new HttpClient(srv.url);
    const wrong = await c.login('dana@example.test', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_credentials');
    // With an empty password the bind is anonymous, and this directory accepts it: mailca never sends one.
    expect(await ldap.canBind(personDn('dana'), '')).toBe(true);
    const empty = await c.login('dana@example.test', '');
    expect([400, 401]).toContain(empty.status);
    expect((await c.get('/api/v1/me')).status).toBe(401);
    // Below the HTTP form's own check: the provider and the directory client refuse it too.
    const provider = ldapSignIn({ ...srv.server.capabilities, config: srv.m.config, directory: srv.m.directory });
    expect(await provider.verifyPassword('dana@example.test', '', null)).toBeUndefined();
    expect(await provider.verifyPassword('dana@example.test', DANA.password, null)).toMatchObject({ address: 'dana@example.test', provider: 'ldap', subject: personDn('dana') });
    expect(await srv.m.directory!.checkPassword(personDn('dana'), '')).toBe(false);
  });

  it('does not let filter syntax in the address match anyone', async () => {
    const c = new HttpClient(srv.url);
    // Unescaped, "(mail=dana*)" would find dana and her password would sign in.
    for (const email of ['dana*', '*)(mail=*', '*', 'dana@example.test)(uid=*']) {
      const res = await c.login(email, DANA.password);
      expect(res.status, email).toBe(401);
    }
    expect((await srv.m.store.users.list()).map((u) => u.email).sort()).toEqual(['alice@example.test', 'dana@example.test']);
  });

  it("gives admin rights to the admin group's members and takes them away when they leave it", async () => {
    const erin = new HttpClient(srv.url);
    expect((await erin.login('erin@example.test', ERIN.password)).status).toBe(200);
    expect((await user('erin@example.test'))?.isAdmin).toBe(true);
    expect((await erin.get('/api/v1/users')).status).toBe(200);

    await ldap.modify([`dn: ${ADMIN_GROUP_DN}`, 'changetype: modify', 'delete: member', `member: ${personDn('erin')}`, ''].join('\n'));
    const again = new HttpClient(srv.url);
    expect((await again.login('erin@example.test', ERIN.password)).status).toBe(200);
    expect((await user('erin@example.test'))?.isAdmin).toBe(false);
    expect((await again.get('/api/v1/users')).status).toBe(403);
    const sync = (await srv.m.store.audit.list({ action: 'user.sync', target: 'erin@example.test', limit: 1, offset: 0 })).items[0];
    expect(sync?.details).toMatchObject({ provider: 'ldap', isAdmin: false });
  });

  it('disables a user who has left the directory at their next sign-in and revokes their certificates', async () => {
    const frank = new HttpClient(srv.url);
    expect((await frank.login('frank@example.test', FRANK.password)).status).toBe(200);
    const { serial } = await enrolOver(frank, 'frank');
    await ldap.delete(personDn('frank'));

    const res = await new HttpClient(srv.url).login('frank@example.test', FRANK.password);
    expect(res.status).toBe(401);
    expect((await user('frank@example.test'))?.disabledAt).not.toBeNull();
    expect((await srv.m.store.certificates.findBySerial(serial))?.revocationReason).toBe('affiliationChanged');
    // The session from before ends too.
    expect((await frank.get('/api/v1/me')).status).toBe(401);
  });

  it('lets a local account win for its address (MAILCA_SIGN_IN=local,ldap)', async () => {
    const local = await new HttpClient(srv.url).login('alice@example.test', PASSWORD);
    expect(local.status, local.text).toBe(200);
    expect((await lastLogin('alice@example.test'))?.details).toEqual({ provider: 'local' });
    // The directory's alice does not take over the local account.
    expect((await new HttpClient(srv.url).login('alice@example.test', ALICE.password)).status).toBe(401);
    expect(await user('alice@example.test')).toMatchObject({ identityProvider: null, disabledAt: null });
  });

  it('`mailca directory sync` disables the users who have left and leaves the others', async () => {
    const gina = new HttpClient(srv.url);
    expect((await gina.login('gina@example.test', GINA.password)).status).toBe(200);
    const { serial } = await enrolOver(gina, 'gina');
    await ldap.delete(personDn('gina'));

    const env = { ...ldap.env(), MAILCA_CA_PASSPHRASE: 'test passphrase for the CA key' };
    const run = await runMailca(srv.db, ['directory', 'sync'], undefined, env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('disabled gina@example.test; revoked 1 certificate(s)');
    expect((await user('gina@example.test'))?.disabledAt).not.toBeNull();
    expect((await srv.m.store.certificates.findBySerial(serial))?.revokedAt).not.toBeNull();
    for (const stays of ['dana@example.test', 'erin@example.test', 'alice@example.test']) expect((await user(stays))?.disabledAt, stays).toBeNull();
  });

  it('the scheduled maintenance runs the directory sync', async () => {
    await ldap.addPerson(IVAN);
    expect((await new HttpClient(srv.url).login('ivan@example.test', IVAN.password)).status).toBe(200);
    await ldap.delete(personDn('ivan'));
    await maintenanceTick(srv.m);
    expect((await user('ivan@example.test'))?.disabledAt).not.toBeNull();
    const disabled = (await srv.m.store.audit.list({ action: 'user.disable', target: 'ivan@example.test', limit: 1, offset: 0 })).items[0];
    expect(disabled?.actor).toBe('scheduler:directory-sync');
    expect((await user('dana@example.test'))?.disabledAt).toBeNull();
  });

  it('refuses an address that several entries share, and does not take it for a leaver', async () => {
    await ldap.addPerson(JACK);
    expect((await new HttpClient(srv.url).login('jack@example.test', JACK.password)).status).toBe(200);
    await ldap.addPerson({ uid: 'jack2', mail: ['jack@example.test'], password: 'another jack password' });
    expect((await new HttpClient(srv.url).login('jack@example.test', JACK.password)).status).toBe(401);
    const r = await syncDirectory(srv.m.ctx, testActor, srv.m.directory!);
    expect(r.unusable).toEqual([{ email: 'jack@example.test', reason: 'several entries match' }]);
    expect(r.disabled).toEqual([]);
    expect((await user('jack@example.test'))?.disabledAt).toBeNull();
  });

  it('fails clearly while the directory is down, and disables nobody', async () => {
    await ldap.stopDaemon();
    try {
      const res = await new HttpClient(srv.url).login('dana@example.test', DANA.password);
      expect(res.status, res.text).toBe(503);
      expect(res.json.error).toBe('directory_unavailable');
      expect(String(res.json.message)).toMatch(/directory cannot be reached/);
      // Local accounts still sign in.
      expect((await new HttpClient(srv.url).login('alice@example.test', PASSWORD)).status).toBe(200);

      const env = { ...ldap.env(), MAILCA_CA_PASSPHRASE: 'test passphrase for the CA key' };
      const run = await runMailca(srv.db, ['directory', 'sync'], undefined, env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/directory cannot be reached/);
      for (const stays of ['dana@example.test', 'erin@example.test']) expect((await user(stays))?.disabledAt, stays).toBeNull();
    } finally {
      await ldap.startDaemon();
    }
    expect((await new HttpClient(srv.url).login('dana@example.test', DANA.password)).status).toBe(200);
  });
});
