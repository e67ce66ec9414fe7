import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol } from '../../src/enrolment/enrol.ts';
import { passwordLogin, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ACCOUNT_AND_SOURCE } from '../../src/enrolment/login.ts';
import { importUsers, parseCsv, parseUserCsv } from '../../src/enrolment/user-import.ts';
import { listUsers } from '../../src/enrolment/user-list.ts';
import { addUser, changeOwnPassword, disableUser, enableUser, resetPassword, unlockUser } from '../../src/enrolment/users.ts';
import { BadRequest, Conflict, Forbidden, RateLimited, Unauthenticated } from '../../src/errors.ts';
import { addTestUser, opensslCsr, PASSWORD, startMailca, testActor } from '../helpers/mailca.ts';

let env: Awaited<ReturnType<typeof startMailca>>;
beforeAll(async () => {
  env = await startMailca();
});
afterAll(async () => {
  await env?.stop();
});

const rejection = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
const login = (email: string, password: string, sourceIp: string | null) => passwordLogin(env.m.ctx, { email, password, sourceIp });
const actions = async (target: string) => (await env.m.store.audit.list({ limit: 100, offset: 0, target })).items.map((e) => e.action);

describe('password lifecycle', () => {
  it('refuses a multi-line password when adding a user or setting one', async () => {
    const e = await rejection(addUser(env.m.ctx, testActor, { email: 'two@example.test', password: 'first line\nsecond line' }));
    expect(e).toBeInstanceOf(BadRequest);
    expect((e as BadRequest).code).toBe('multiline_password');
    await addTestUser(env.m, 'two@example.test');
    expect(await rejection(resetPassword(env.m.ctx, testActor, { email: 'two@example.test', password: 'a long password\r' }))).toBeInstanceOf(BadRequest);
    expect(await rejection(resetPassword(env.m.ctx, testActor, { email: 'two@example.test', password: 'short' }))).toBeInstanceOf(BadRequest);
  });

  it('an admin reset sets or generates a password and ends the user\'s sessions', async () => {
    const u = await addTestUser(env.m, 'reset@example.test');
    const other = await addTestUser(env.m, 'bystander@example.test');
    const far = new Date(Date.now() + 3_600_000);
    await env.m.store.sessions.set('s-reset-1', '{}', far, u.id);
    await env.m.store.sessions.set('s-reset-2', '{}', far, u.id);
    await env.m.store.sessions.set('s-other', '{}', far, other.id);
    const r = await resetPassword(env.m.ctx, testActor, { email: 'Reset@example.test' });
    expect(r.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(r.endedSessions).toBe(2);
    expect(await env.m.store.sessions.get('s-reset-1', new Date())).toBeUndefined();
    expect(await env.m.store.sessions.get('s-other', new Date())).toBe('{}');
    expect(await rejection(login('reset@example.test', PASSWORD, '192.0.2.1'))).toBeInstanceOf(Unauthenticated);
    expect((await login('reset@example.test', r.generatedPassword!, '192.0.2.1')).email).toBe('reset@example.test');
    const chosen = await resetPassword(env.m.ctx, testActor, { email: 'reset@example.test', password: 'an admin-chosen password' });
    expect(chosen.generatedPassword).toBeUndefined();
    expect((await login('reset@example.test', 'an admin-chosen password', '192.0.2.1')).id).toBe(u.id);
    expect(await actions('reset@example.test')).toContain('user.password.reset');
  });

  it('a user changes their own password only with the current one; their other sessions end', async () => {
    const u = await addTestUser(env.m, 'self@example.test');
    const far = new Date(Date.now() + 3_600_000);
    await env.m.store.sessions.set('s-self-here', '{}', far, u.id);
    await env.m.store.sessions.set('s-self-elsewhere', '{}', far, u.id);
    const wrong = await rejection(changeOwnPassword(env.m.ctx, testActor, { user: u, currentPassword: 'not my password', newPassword: 'my new password here' }));
    expect(wrong).toBeInstanceOf(Forbidden);
    const multiline = await rejection(changeOwnPassword(env.m.ctx, testActor, { user: u, currentPassword: PASSWORD, newPassword: 'my new\npassword here' }));
    expect((multiline as BadRequest).code).toBe('multiline_password');
    await changeOwnPassword(env.m.ctx, testActor, { user: u, currentPassword: PASSWORD, newPassword: 'my new password here', keepSessionId: 's-self-here' });
    expect(await env.m.store.sessions.get('s-self-here', new Date())).toBe('{}');
    expect(await env.m.store.sessions.get('s-self-elsewhere', new Date())).toBeUndefined();
    expect((await login('self@example.test', 'my new password here', '192.0.2.2')).id).toBe(u.id);
    expect(await actions('self@example.test')).toEqual(expect.arrayContaining(['user.password.change', 'user.password.change_refused']));
    // Wrong current passwords are limited like sign-ins (5 in 15 minutes).
    for (let i = 0; i < 4; i++) expect(await rejection(changeOwnPassword(env.m.ctx, testActor, { user: u, currentPassword: `guess ${i}`, newPassword: 'whatever password' }))).toBeInstanceOf(Forbidden);
    expect(await rejection(changeOwnPassword(env.m.ctx, testActor, { user: u, currentPassword: 'my new password here', newPassword: 'whatever password' }))).toBeInstanceOf(RateLimited);
    env.clock.advance(16 * 60_000);
    await changeOwnPassword(env.m.ctx, testActor, { user: u, currentPassword: 'my new password here', newPassword: 'my third password' });
    // An account without a mailca password (imported, or from a directory) has nothing to change.
    const none = await addUser(env.m.ctx, testActor, { email: 'nopass@example.test' });
    expect(await rejection(changeOwnPassword(env.m.ctx, testActor, { user: none, currentPassword: '', newPassword: 'whatever password' }))).toBeInstanceOf(Conflict);
  });

  it('re-enables a disabled user, whose revoked certificates stay revoked', async () => {
    const user = await addTestUser(env.m, 'back@example.test');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-users-'));
    const { record } = await enrol(env.m.ctx, testActor, { user, csr: opensslCsr(dir, 'back').csrPem });
    expect((await disableUser(env.m.ctx, testActor, 'back@example.test')).revoked).toEqual([record.serial]);
    expect(await rejection(login('back@example.test', PASSWORD, '192.0.2.3'))).toBeInstanceOf(Unauthenticated);
    expect((await enableUser(env.m.ctx, testActor, 'back@example.test')).changed).toBe(true);
    expect((await enableUser(env.m.ctx, testActor, 'back@example.test')).changed).toBe(false);
    expect((await login('back@example.test', PASSWORD, '192.0.2.3')).disabledAt).toBeNull();
    expect((await env.m.store.certificates.findBySerial(record.serial))?.revokedAt).not.toBeNull();
    expect((await listUsers(env.m.ctx, { q: 'back@', limit: 5, offset: 0 })).items[0]).toMatchObject({ activeCertificates: 0, enforcement: { state: 'grace' } });
    expect(await actions('back@example.test')).toEqual(expect.arrayContaining(['user.disable', 'user.enable']));
  });
});

describe('sign-in limits', () => {
  it('guesses from one address lock that address out, not the owner at another; unlock clears it', async () => {
    await addTestUser(env.m, 'target@example.test');
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT_AND_SOURCE; i++) expect(await rejection(login('target@example.test', `guess-${i}`, '203.0.113.66'))).toBeInstanceOf(Unauthenticated);
    expect(await rejection(login('target@example.test', PASSWORD, '203.0.113.66'))).toBeInstanceOf(RateLimited);
    expect((await login('target@example.test', PASSWORD, '198.51.100.7')).email).toBe('target@example.test');
    await unlockUser(env.m.ctx, testActor, 'target@example.test');
    expect((await login('target@example.test', PASSWORD, '203.0.113.66')).email).toBe('target@example.test');
  });

  it('has a much higher ceiling per account over all addresses', async () => {
    await addTestUser(env.m, 'popular@example.test');
    const perSource = MAX_FAILURES_PER_ACCOUNT_AND_SOURCE - 1;
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
      const ip = `203.0.113.${Math.floor(i / perSource) + 100}`;
      expect(await rejection(login('popular@example.test', `guess-${i}`, ip))).toBeInstanceOf(Unauthenticated);
    }
    // Past the ceiling even a fresh address is refused, until the window passes or an admin unlocks.
    expect(await rejection(login('popular@example.test', PASSWORD, '198.51.100.99'))).toBeInstanceOf(RateLimited);
    await unlockUser(env.m.ctx, testActor, 'popular@example.test');
    expect((await login('popular@example.test', PASSWORD, '198.51.100.99')).email).toBe('popular@example.test');
  });
});

describe('user import', () => {
  it('parses quoted fields, doubled quotes, CRLF and fields spanning lines', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi""\nthere"\n\nlast,\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"\nthere'] },
      { line: 5, fields: ['last', ''] },
    ]);
    expect(() => parseCsv('a,"b\n')).toThrow(/line 1: a quoted field is not closed/);
  });

  it('reports a bad row by its line', () => {
    const header = 'email,name,admin,aliases\n';
    expect(() => parseUserCsv('mail,name,admin\n')).toThrow(/line 1: the header/);
    expect(() => parseUserCsv(header + 'a@example.test,A,no,\nnot-an-address,B,no,\n')).toThrow(/^line 3: "not-an-address" is not a valid/);
    expect(() => parseUserCsv(header + 'a@example.test,A,maybe,\n')).toThrow(/^line 2: admin must be/);
    expect(() => parseUserCsv(header + 'a@example.test,A,no\n')).toThrow(/^line 2: 3 field\(s\)/);
    expect(() => parseUserCsv(header + 'a@example.test,A,no,\nb@example.test,B,no,A@example.test\n')).toThrow(/^line 3: a@example.test is already on line 2/);
    expect(parseUserCsv('Email,Name,Admin\n"Ann@Example.test","Ann, the admin",yes\n')).toEqual([{ line: 2, email: 'ann@example.test', displayName: 'Ann, the admin', isAdmin: true, aliases: [] }]);
  });

  it('imports all rows with their aliases in one transaction, or none', async () => {
    await addTestUser(env.m, 'existing@example.test');
    const before = await env.m.store.users.count();
    const bad = 'email,name,admin,aliases\nnew1@example.test,New One,no,one@example.test\nexisting@example.test,X,no,\n';
    const e = await rejection(importUsers(env.m.ctx, testActor, bad));
    expect(e).toBeInstanceOf(Conflict);
    expect((e as Error).message).toBe('line 3: existing@example.test is already a user');
    expect(await env.m.store.users.count()).toBe(before);
    expect(await env.m.store.users.findByEmail('new1@example.test')).toBeUndefined();
    expect(await env.m.store.aliases.findOwner('one@example.test')).toBeUndefined();

    const good = 'email,name,admin,aliases\nnew1@example.test,New One,no,one@example.test; uno@example.test\n"new2@example.test","Two, Second",true,\n';
    expect(await importUsers(env.m.ctx, testActor, good)).toEqual({ added: 2 });
    const page = await listUsers(env.m.ctx, { q: 'NEW', limit: 10, offset: 0 });
    expect(page.total).toBe(2);
    expect(page.items.map((s) => [s.user.email, s.user.displayName, s.user.isAdmin, s.aliases, s.enforcement?.state, s.activeCertificates])).toEqual([
      ['new1@example.test', 'New One', false, ['one@example.test', 'uno@example.test'], 'grace', 0],
      ['new2@example.test', 'Two, Second', true, [], 'grace', 0],
    ]);
    expect(await actions('new2@example.test')).toEqual(['user.add']);
    expect((await env.m.store.audit.verify()).ok).toBe(true);
  });
});
