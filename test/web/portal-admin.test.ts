import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactDir, newPortalPage, Steps } from '../helpers/browser.ts';
import path from 'node:path';
import { importUsers } from '../../src/enrolment/user-import.ts';
import { resetPassword } from '../../src/enrolment/users.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, opensslCsrForKey, PASSWORD, testActor } from '../helpers/mailca.ts';
import { signInToMyCertificates, startPortal, type Portal, type PortalServer } from '../helpers/portal.ts';

// Admin pages in real Chromium: overview counts, certificate search and revocation of another
// user's certificate, adding and disabling users, a user's sender aliases.

const ADMIN = 'admin@example.test';
const BOB = 'bob@example.test';

let env: PortalServer;
let browser: Browser;
let api: HttpClient;
let tmp: string;
let portal: Portal | undefined;
const bob: { serial: string; fingerprint: string }[] = [];

beforeAll(async () => {
  // 20-day certificates, so every new one counts as "expiring in 30 days".
  portal = await startPortal('mailca-admin-', { certLifetimeDays: 20 });
  ({ env, browser, tmp } = portal);
  await addTestUser(env.m, ADMIN, { admin: true });
  await addTestUser(env.m, BOB);
  api = new HttpClient(env.url, { authorization: `Bearer ${await addTestToken(env.m, 'admin')}` });
  const asBob = new HttpClient(env.url);
  expect((await asBob.login(BOB)).status).toBe(200);
  for (const device of ['Bob laptop', 'Bob phone']) {
    const res = await asBob.post('/api/v1/enrol', { csr: opensslCsr(tmp, device.replace(' ', '-')).csrPem, device_label: device });
    expect(res.status).toBe(201);
    bob.push({ serial: res.json.serial as string, fingerprint: res.json.fingerprint_sha256 as string });
  }
});

afterAll(() => portal?.stop());

const stat = async (page: import('playwright-core').Page, id: string) => Number(await page.getByTestId(id).textContent());

describe('admin pages (Chromium)', () => {
  it('shows the overview, and revokes another user’s certificate found by fingerprint', async () => {
    const steps = new Steps(artifactDir('admin'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { level: 1, name: 'Admin overview' }).waitFor();
    expect(await stat(page, 'stat-users')).toBe(2);
    expect(await stat(page, 'stat-users-active')).toBe(1);
    expect(await stat(page, 'stat-expiring')).toBe(2);
    expect(await stat(page, 'stat-revoked')).toBe(0);
    await steps.shot(page, 'overview');

    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Certificates' }).click();
    await page.getByRole('heading', { level: 1, name: 'All certificates' }).waitFor();
    await page.getByText('2 certificates').waitFor();
    const [target, other] = bob as [(typeof bob)[0], (typeof bob)[0]];

    // An admin pastes the fingerprint as openssl prints it (colons, upper case).
    await page.getByLabel('Search').fill(target.fingerprint);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 certificate', { exact: true }).waitFor();
    const row = page.locator(`tr[data-serial="${target.serial}"]`);
    expect(await row.getByRole('rowheader').textContent()).toBe(BOB);
    expect(await row.locator('.badge').textContent()).toBe('Expiring soon');
    await steps.shot(page, 'search-by-fingerprint');

    await row.getByRole('button', { name: /^Revoke/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').selectOption('affiliationChanged');
    await steps.shot(page, 'revoke-reason');
    await dialog.getByRole('button', { name: 'Revoke certificate' }).click();
    await page.getByRole('status').filter({ hasText: `The certificate of ${BOB} (Bob laptop) is revoked.` }).waitFor();
    expect(await row.locator('.badge').textContent()).toBe('Revoked');
    await expect(row.getByRole('button', { name: /^Revoke/ }).count()).resolves.toBe(0);
    await steps.shot(page, 'revoked');

    const stored = await api.get(`/api/v1/certificates/${target.serial}`);
    expect(stored.json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'affiliationChanged' });
    const allow = (await api.get('/api/v1/allowlist?format=json')).json.certificates as { fingerprint_sha256: string }[];
    expect(allow.map((c) => c.fingerprint_sha256)).toEqual([other.fingerprint]);

    // Search by serial prefix and by status.
    await page.getByLabel('Search').fill(other.serial.slice(0, 12));
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator(`tr[data-serial="${other.serial}"]`).waitFor();
    await page.getByLabel('Search').fill('bob@');
    await page.getByLabel('Status').selectOption('revoked');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 certificate', { exact: true }).waitFor();
    await page.locator(`tr[data-serial="${target.serial}"]`).waitFor();

    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { level: 1, name: 'Admin overview' }).waitFor();
    expect(await stat(page, 'stat-revoked')).toBe(1);
    expect(await stat(page, 'stat-expiring')).toBe(1);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('adds a user who can sign in, and disables them', async () => {
    const steps = new Steps(artifactDir('admin-users'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin/users');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    // No "Disable" for oneself.
    await expect(page.locator(`tr[data-email="${ADMIN}"]`).getByRole('button').count()).resolves.toBe(0);

    await page.getByLabel('Email').fill('carol@example.test');
    await page.getByLabel('Name').fill('Carol');
    await page.getByLabel('Initial password').fill('a long initial password');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('status').filter({ hasText: 'carol@example.test was added.' }).waitFor();
    const carol = page.locator('tr[data-email="carol@example.test"]');
    expect(await carol.textContent()).toContain('Enabled');
    await steps.shot(page, 'user-added');

    const asCarol = new HttpClient(env.url);
    expect((await asCarol.login('carol@example.test', 'a long initial password')).status).toBe(200);

    await carol.getByRole('button', { name: 'Disable carol@example.test' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Disable user' }).click();
    await page.getByRole('status').filter({ hasText: 'carol@example.test is disabled' }).waitFor();
    expect(await carol.textContent()).toContain('Disabled');
    await steps.shot(page, 'user-disabled');
    expect((await asCarol.get('/api/v1/me')).status).toBe(401);
    expect((await new HttpClient(env.url).login('carol@example.test', 'a long initial password')).status).toBe(401);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('adds and removes a user’s sender alias', async () => {
    const steps = new Steps(artifactDir('admin-aliases'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin/users');
    await page.getByRole('link', { name: `Sender aliases of ${BOB}` }).click();
    await page.getByRole('heading', { level: 1, name: `Sender aliases of ${BOB}` }).waitFor();
    await page.getByText(`${BOB} has no sender aliases.`).waitFor();

    await page.getByLabel('Alias address').fill('Sales@Example.test');
    await page.getByRole('button', { name: 'Add alias' }).click();
    await page.getByRole('status').filter({ hasText: `${BOB} may now send as sales@example.test.` }).waitFor();
    expect(await page.getByRole('list', { name: `Sender aliases of ${BOB}` }).getByRole('listitem').allTextContents()).toEqual(['sales@example.testRemove']);
    // Another user's address is refused, with the server's reason.
    await page.getByLabel('Alias address').fill(ADMIN);
    await page.getByRole('button', { name: 'Add alias' }).click();
    await page.getByRole('alert').filter({ hasText: `The address ${ADMIN} belongs to a user.` }).waitFor();
    await steps.shot(page, 'alias-added');
    expect((await api.get(`/api/v1/users/${BOB}/aliases`)).json).toEqual({ aliases: ['sales@example.test'] });

    await page.getByRole('link', { name: 'Back to users' }).click();
    expect(await page.locator(`tr[data-email="${BOB}"] td.aliases`).textContent()).toBe('sales@example.test');
    await page.getByRole('link', { name: `Sender aliases of ${BOB}` }).click();
    await page.getByRole('button', { name: 'Remove sales@example.test' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove alias' }).click();
    await page.getByRole('status').filter({ hasText: `${BOB} may no longer send as sales@example.test.` }).waitFor();
    await page.getByText(`${BOB} has no sender aliases.`).waitFor();
    await steps.shot(page, 'alias-removed');
    expect((await api.get(`/api/v1/users/${BOB}/aliases`)).json).toEqual({ aliases: [] });
    expect(problems).toEqual([]);
    await context.close();
  });
  it('revokes for keyCompromise and says which certificates with the same key went too', async () => {
    const dave = 'dave@example.test';
    await addTestUser(env.m, dave);
    const asDave = new HttpClient(env.url);
    expect((await asDave.login(dave)).status).toBe(200);
    const { keyFile } = opensslCsr(tmp, 'dave-shared');
    const serials: string[] = [];
    for (const device of ['Dave desk', 'Dave spare']) {
      const res = await asDave.post('/api/v1/enrol', { csr: opensslCsrForKey(keyFile, path.join(tmp, `${device.replace(' ', '-')}.csr`)), device_label: device });
      expect(res.status).toBe(201);
      serials.push(res.json.serial as string);
    }
    const [target, twin] = serials as [string, string];
    const steps = new Steps(artifactDir('admin-key-compromise'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin/certificates');
    await page.getByLabel('Search').fill(dave);
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.locator(`tr[data-serial="${target}"]`);
    await row.getByRole('button', { name: /^Revoke/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').selectOption('keyCompromise');
    await dialog.getByRole('button', { name: 'Revoke certificate' }).click();
    await page.getByRole('status').filter({ hasText: `The certificate of ${dave} (Dave desk) is revoked. One other certificate uses the same key and was revoked too: serial ${twin}.` }).waitFor();
    await steps.shot(page, 'key-compromise-revoked');
    expect((await api.get(`/api/v1/certificates/${twin}`)).json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'keyCompromise' });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('finds and pages through many users, shows their enforcement, resets a password and re-enables a user', async () => {
    const steps = new Steps(artifactDir('admin-users-many'));
    const csv = 'email,name,admin\n' + Array.from({ length: 60 }, (_, i) => `staff${String(i).padStart(2, '0')}@example.test,Staff ${i},no`).join('\n');
    await importUsers(env.m.ctx, testActor, csv);
    await resetPassword(env.m.ctx, testActor, { email: 'staff07@example.test', password: PASSWORD });
    expect((await api.post('/api/v1/users/staff01@example.test/enforcement', { state: 'enforced' })).status).toBe(200);
    expect((await api.post('/api/v1/users/staff02@example.test/disable', {})).status).toBe(200);
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin/users');
    await page.getByLabel('Find users').fill('STAFF');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('table').getByText('Showing 1–50 of 60 users').waitFor();
    expect(await page.locator('tr[data-email="staff01@example.test"] td.enforcement').textContent()).toBe('Certificate required, has none');
    expect(await page.locator('tr[data-email="staff00@example.test"] td.enforcement').textContent()).toBe('Password allowed');
    await steps.shot(page, 'users-found');
    await page.getByRole('button', { name: 'Next page of users' }).click();
    await page.getByRole('table').getByText('Showing 51–60 of 60 users').waitFor();
    expect(await page.locator('tbody tr').count()).toBe(10);
    await page.getByLabel('Find users').fill('staff0');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('table').getByText('10 users').waitFor();

    // Reset: a new password shown once; the user's session ends and the new password works.
    const asStaff = new HttpClient(env.url);
    expect((await asStaff.login('staff07@example.test')).status).toBe(200);
    await page.getByRole('button', { name: 'Reset the password of staff07@example.test' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset password' }).click();
    await page.getByRole('heading', { name: 'The password of staff07@example.test was reset' }).waitFor();
    const shown = (await page.getByTestId('generated-password').textContent()) as string;
    await steps.shot(page, 'password-reset');
    expect((await asStaff.get('/api/v1/me')).status).toBe(401);
    expect((await new HttpClient(env.url).login('staff07@example.test', shown)).status).toBe(200);

    await page.getByRole('link', { name: 'Done, back to users' }).click();
    await page.getByRole('button', { name: 'Enable staff02@example.test' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Enable user' }).click();
    await page.getByRole('status').filter({ hasText: 'staff02@example.test is enabled again.' }).waitFor();
    expect(await page.locator('tr[data-email="staff02@example.test"]').textContent()).toContain('Enabled');
    await steps.shot(page, 'user-enabled');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('a user changes their own password on the Password page', async () => {
    const steps = new Steps(artifactDir('own-password'));
    await addTestUser(env.m, 'dora@example.test');
    const elsewhere = new HttpClient(env.url);
    expect((await elsewhere.login('dora@example.test')).status).toBe(200);
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, 'dora@example.test', PASSWORD);
    await page.getByRole('link', { name: 'Password' }).click();
    await page.getByRole('heading', { level: 1, name: 'Change your password' }).waitFor();
    await page.getByLabel('Current password').fill('not the password');
    await page.getByLabel('New password', { exact: true }).fill('doras new password');
    await page.getByLabel('New password again').fill('doras new password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').filter({ hasText: 'The current password is not correct.' }).waitFor();
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password was changed.' }).waitFor();
    await steps.shot(page, 'password-changed');
    expect((await elsewhere.get('/api/v1/me')).status).toBe(401);
    expect((await new HttpClient(env.url).login('dora@example.test', 'doras new password')).status).toBe(200);
    await page.getByRole('link', { name: 'My certificates' }).click();
    await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('the migration page shows readiness and a chart, enforces a ready user after confirming, and sets the deadline', async () => {
    const steps = new Steps(artifactDir('admin-migration'));
    const before = (await api.get('/api/v1/readiness')).json as { users_total: number; enrolled: number; enforced: number; grace: number; ready_to_enforce: string[] };
    expect(before.ready_to_enforce).toContain(BOB);
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin');
    await page.getByRole('link', { name: 'Migration' }).click();
    await page.getByRole('heading', { level: 1, name: 'Migration' }).waitFor();
    expect(await stat(page, 'm-enrolled')).toBe(before.enrolled);
    expect(await stat(page, 'm-enforced')).toBe(before.enforced);
    expect(await stat(page, 'm-grace')).toBe(before.grace);
    expect(await stat(page, 'm-not-enrolled')).toBe(before.users_total - before.enrolled);
    // The chart is the portal's own SVG: a line ending at today's count of users who ever enrolled.
    const history = (await api.get('/api/v1/readiness/history?days=90')).json as { users_total: number; days: { enrolled: number }[] };
    expect(await page.getByTestId('progress-chart').getAttribute('aria-label')).toContain(`${history.days.at(-1)!.enrolled} of ${history.users_total} on`);
    expect(await page.getByTestId('progress-line').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+){89}$/);
    await steps.shot(page, 'migration');

    await page.getByRole('button', { name: 'Enforce everybody' }).click();
    const everybody = page.getByRole('dialog');
    await everybody.getByText(`${before.users_total} users will be refused with a password alone from now on.`).waitFor();
    await everybody.getByText(`${before.users_total - before.enrolled} of them hold no certificate`).waitFor();
    await everybody.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: `Enforce ${BOB}` }).click();
    await page.getByRole('dialog').getByText(`${BOB} will be refused with a password alone from now on`).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Enforce' }).click();
    await page.getByRole('status').filter({ hasText: `${BOB} must now use a certificate.` }).waitFor();
    expect((await api.get('/api/v1/readiness')).json.ready_to_enforce).not.toContain(BOB);

    await page.getByLabel('Days after first enrolment').fill('30');
    await page.getByLabel('Deadline').fill('2030-06-01');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page.getByRole('dialog').getByText('From 2030-06-01 every user without an exemption will be refused with a password alone').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Save schedule' }).click();
    await page.getByRole('status').filter({ hasText: 'The schedule is saved.' }).waitFor();
    expect((await api.get('/api/v1/enforcement/policy')).json).toEqual({ after_first_enrolment_days: 30, deadline: '2030-06-01T00:00:00.000Z' });
    await steps.shot(page, 'migration-scheduled');
    expect(problems).toEqual([]);
    await context.close();
  });
});
