import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS } from '../../src/clock.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { artifactDir, newPortalPage, openssl, Steps } from '../helpers/browser.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, PASSWORD, testActor } from '../helpers/mailca.ts';
import {
  downloadTo,
  fillKeyForm,
  isFocused,
  leafDetails,
  leafOf,
  postsDuring,
  readP12,
  signInToMyCertificates,
  startPortal,
  type Portal,
  type PortalServer,
} from '../helpers/portal.ts';

// Things that must not lose a user's work in the portal (real Chromium): the skip link, a failure between
// issuance and the file, the idle sign-out on a result page; plus paging in the admin search and adding a user
// without a password. Screenshots: test-artifacts/portal/<project>/robustness-*/.

const ALICE = 'alice@example.test';
const ADMIN = 'admin@example.test';
const BOB = 'bob@example.test';
const FILE_PASSWORD = 'Tulip harbour 42 lantern';
const BOB_CERTIFICATES = 55;

let env: PortalServer;
let browser: Browser;
let adminApi: HttpClient;
let tmp: string;
let portal: Portal | undefined;

beforeAll(async () => {
  portal = await startPortal('mailca-portal-robust-');
  ({ env, browser, tmp } = portal);
  await addTestUser(env.m, ALICE);
  await addTestUser(env.m, ADMIN, { admin: true });
  const bob = await addTestUser(env.m, BOB);
  adminApi = new HttpClient(env.url, { authorization: `Bearer ${await addTestToken(env.m, 'admin')}` });
  // More certificates than one page of the admin search; one key may back several certificates.
  const { csrPem } = opensslCsr(tmp, 'bob');
  for (let i = 1; i <= BOB_CERTIFICATES; i++) await enrol(env.m.ctx, testActor, { user: bob, csr: csrPem, deviceLabel: `Bob device ${i}` });
});

afterAll(() => portal?.stop());

/** The key and leaf of a modern .p12 as openssl reads them. */
function inspectP12(file: string) {
  const { certs, key } = readP12(file, FILE_PASSWORD);
  expect(key).toBeDefined();
  const leaf = leafOf(certs) as string;
  expect(leaf).toBeDefined();
  const { leafPub, serial } = leafDetails(leaf);
  return { keyPub: openssl(['pkey', '-pubout'], key), leafPub, serial };
}

async function openNewCertificateForm(page: Page, device: string): Promise<void> {
  await page.getByRole('link', { name: 'New certificate' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'New certificate' }).waitFor();
  await page.getByLabel('Device name').fill(device);
  await fillKeyForm(page, FILE_PASSWORD);
}

async function downloadP12(page: Page, name: string): Promise<string> {
  const file = path.join(tmp, `${name}.p12`);
  await downloadTo(page, `Download ${ALICE}.p12`, file);
  return file;
}

/** Makes the page's WebCrypto AES encryption (used only to pack the .p12) fail `times` times: a real packing failure. */
async function failPacking(page: Page, times: number): Promise<void> {
  await page.evaluate((n) => {
    const original = SubtleCrypto.prototype.encrypt;
    let left = n;
    SubtleCrypto.prototype.encrypt = function (this: SubtleCrypto, ...args: Parameters<SubtleCrypto['encrypt']>) {
      if (left > 0) {
        left -= 1;
        return Promise.reject(new Error('simulated packing failure'));
      }
      return original.apply(this, args);
    };
  }, times);
}

/** The paths of the POSTs the page sends while `work` runs. */
async function postPathsDuring(page: Page, work: () => Promise<void>): Promise<string[]> {
  return (await postsDuring(page, work)).map((p) => p.path);
}

const myCertificates = (page: Page) => page.evaluate(async () => ((await (await fetch('/api/v1/me/certificates')).json()) as { certificates: { serial: string; status: string; revocation_reason: string | null }[] }).certificates);

describe('portal robustness (Chromium)', () => {
  it('“Skip to content” moves focus without leaving the form or losing the new file; file passwords are not sign-in passwords', async () => {
    const steps = new Steps(artifactDir('robustness-skip-link'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await openNewCertificateForm(page, 'Skip link laptop');

    const skip = page.getByRole('link', { name: 'Skip to content' });
    await skip.focus();
    await page.keyboard.press('Enter');
    await expect(isFocused(page.locator('main'))).resolves.toBe(true);
    expect(new URL(page.url()).hash).toBe('#/new');
    // An address fragment that is not a portal page (#main typed or bookmarked) does not change the page either.
    await page.evaluate(() => (location.hash = '#main'));
    await page.waitForFunction(() => location.hash === '#main');
    await expect(page.getByRole('heading', { level: 1, name: 'New certificate' }).isVisible()).resolves.toBe(true);
    expect(await page.getByLabel('Device name').inputValue()).toBe('Skip link laptop');
    await steps.shot(page, 'form-after-skip');

    // Password managers must not take the file password for the portal password.
    for (const label of ['File password', 'Repeat the file password']) {
      const input = page.getByLabel(label, { exact: true });
      expect(await input.getAttribute('autocomplete')).toBe('off');
      expect(await input.getAttribute('name')).not.toMatch(/pass/i);
    }

    await page.getByRole('button', { name: 'Create certificate' }).click();
    await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });
    await skip.focus();
    await page.keyboard.press('Enter');
    await expect(isFocused(page.locator('main'))).resolves.toBe(true);
    await page.evaluate(() => (location.hash = '#top'));
    await page.waitForFunction(() => location.hash === '#top');
    await expect(page.getByRole('heading', { name: 'Your certificate is ready' }).isVisible()).resolves.toBe(true);
    // The file is still there: the download works and holds the key of the certificate.
    const p12 = inspectP12(await downloadP12(page, 'skip-link'));
    expect(p12.keyPub).toBe(p12.leafPub);
    await steps.shot(page, 'result-after-skip');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('keeps the new key when packing the file fails: “Try again” makes a working .p12 for the same certificate', async () => {
    const steps = new Steps(artifactDir('robustness-pack-retry'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ALICE, PASSWORD);
    const before = await myCertificates(page);
    await openNewCertificateForm(page, 'Retry laptop');
    await failPacking(page, 1);

    const posts = await postPathsDuring(page, async () => {
      await page.getByRole('button', { name: 'Create certificate' }).click();
      await page.getByRole('heading', { name: 'The file could not be made' }).waitFor({ timeout: 30_000 });
      const alert = page.locator('.pack-failed').getByRole('alert');
      expect(await alert.textContent()).toMatch(/certificate was issued.*could not pack it.*simulated packing failure/);
      await expect(isFocused(alert)).resolves.toBe(true);
      await steps.shot(page, 'packing-failed');

      await page.getByRole('button', { name: 'Try again' }).click();
      await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });
    });
    // One certificate was issued, and the retry needed no server.
    expect(posts).toEqual(['/api/v1/enrol']);
    const serial = (await myCertificates(page)).map((c) => c.serial).filter((s) => !before.some((b) => b.serial === s));
    expect(serial).toHaveLength(1);

    const p12 = inspectP12(await downloadP12(page, 'retried'));
    expect(p12.keyPub).toBe(p12.leafPub);
    expect(p12.serial).toBe(serial[0]);
    await steps.shot(page, 'ready-after-retry');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('offers to revoke a new certificate whose file cannot be made', async () => {
    const steps = new Steps(artifactDir('robustness-pack-revoke'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await openNewCertificateForm(page, 'Broken browser');
    await failPacking(page, 1000);
    await page.getByRole('button', { name: 'Create certificate' }).click();
    await page.getByRole('heading', { name: 'The file could not be made' }).waitFor({ timeout: 30_000 });
    const serial = await page.locator('.pack-failed').getAttribute('data-serial');
    expect(serial).toMatch(/^[0-9a-f]+$/);
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('button', { name: 'Try again' }).and(page.locator(':enabled')).waitFor();
    expect(await page.locator('.pack-failed').getByRole('alert').textContent()).toMatch(/simulated packing failure/);

    await page.getByRole('button', { name: 'Revoke this new certificate' }).click();
    const done = page.getByRole('status').filter({ hasText: 'The new certificate is revoked' });
    await done.waitFor();
    await expect(isFocused(done)).resolves.toBe(true);
    await steps.shot(page, 'revoked');
    const stored = await adminApi.get(`/api/v1/certificates/${serial}`);
    expect(stored.json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'cessationOfOperation' });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('keeps the page holding a new key when the session ends meanwhile', async () => {
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await openNewCertificateForm(page, 'Session lost laptop');
    await failPacking(page, 1);
    await page.getByRole('button', { name: 'Create certificate' }).click();
    await page.getByRole('heading', { name: 'The file could not be made' }).waitFor({ timeout: 30_000 });

    // The server forgets the session; the next request fails with 401, which normally shows the sign-in page.
    await env.m.store.sessions.deleteExpired(new Date(Date.now() + 365 * DAY_MS));
    await page.getByRole('button', { name: 'Revoke this new certificate' }).click();
    await page.locator('.pack-failed').getByRole('alert').filter({ hasText: 'was not revoked' }).waitFor();
    await page.locator('.session-ended').filter({ hasText: 'Your session has ended' }).waitFor();
    await expect(page.getByRole('heading', { name: 'Sign in' }).count()).resolves.toBe(0);

    // Packing again needs no server: the file is still made, with the key of the certificate.
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });
    const p12 = inspectP12(await downloadP12(page, 'session-lost'));
    expect(p12.keyPub).toBe(p12.leafPub);
    // Then the next page needs the server, and leads to sign-in.
    await page.getByRole('link', { name: 'Back to my certificates' }).click();
    await page.getByText('Your session has ended. Please sign in again.').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('does not sign out idle from a result page until its file is downloaded', async () => {
    const steps = new Steps(artifactDir('robustness-idle'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await page.clock.install();
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await openNewCertificateForm(page, 'Slow reader');
    await page.getByRole('button', { name: 'Create certificate' }).click();
    await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });

    // The user reads the setup instructions for a long time; the server forgets the session meanwhile.
    await env.m.store.sessions.deleteExpired(new Date(Date.now() + 365 * DAY_MS));
    await page.clock.runFor(65 * MINUTE_MS);
    await expect(page.getByRole('heading', { name: 'Your certificate is ready' }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole('heading', { name: 'Sign in' }).count()).resolves.toBe(0);
    await steps.shot(page, 'still-there-after-idle');
    const p12 = inspectP12(await downloadP12(page, 'after-idle'));
    expect(p12.keyPub).toBe(p12.leafPub);

    // Once the file is saved, the idle sign-out happens as usual.
    await page.clock.runFor(31 * MINUTE_MS);
    await page.getByText('You were signed out after 30 minutes without activity. Please sign in again.').waitFor();
    await steps.shot(page, 'signed-out-after-download');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('pages through the admin certificate search', async () => {
    const steps = new Steps(artifactDir('robustness-admin-paging'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin/certificates');
    await page.getByRole('heading', { level: 1, name: 'All certificates' }).waitFor();
    await page.getByLabel('Search').fill('bob@');
    await page.getByRole('button', { name: 'Search' }).click();
    const caption = page.locator('caption');
    await caption.filter({ hasText: `Showing 1–50 of ${BOB_CERTIFICATES} certificates` }).waitFor();
    await expect(page.locator('tbody tr').count()).resolves.toBe(50);
    const previous = page.getByRole('button', { name: /^Previous/ });
    const next = page.getByRole('button', { name: /^Next/ });
    await expect(previous.isDisabled()).resolves.toBe(true);
    const firstPage = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-serial')));

    await next.click();
    await caption.filter({ hasText: `Showing 51–${BOB_CERTIFICATES} of ${BOB_CERTIFICATES} certificates` }).waitFor();
    await expect(page.locator('tbody tr').count()).resolves.toBe(BOB_CERTIFICATES - 50);
    await expect(next.isDisabled()).resolves.toBe(true);
    await expect(isFocused(previous)).resolves.toBe(true);
    const secondPage = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-serial')));
    expect(new Set([...firstPage, ...secondPage]).size).toBe(BOB_CERTIFICATES);
    await steps.shot(page, 'second-page');

    // Revoking on the second page keeps the second page.
    const row = page.locator(`tr[data-serial="${secondPage[0]}"]`);
    await row.getByRole('button', { name: /^Revoke/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke certificate' }).click();
    await page.getByRole('status').filter({ hasText: 'is revoked' }).waitFor();
    expect(await row.locator('.badge').textContent()).toBe('Revoked');
    await caption.filter({ hasText: `Showing 51–${BOB_CERTIFICATES} of ${BOB_CERTIFICATES}` }).waitFor();

    await page.getByRole('button', { name: /^Previous/ }).click();
    await caption.filter({ hasText: `Showing 1–50 of ${BOB_CERTIFICATES}` }).waitFor();
    // A new search starts at the first page.
    await page.getByRole('button', { name: /^Next/ }).click();
    await caption.filter({ hasText: 'Showing 51–' }).waitFor();
    await page.getByLabel('Status').selectOption('active');
    await page.getByRole('button', { name: 'Search' }).click();
    await caption.filter({ hasText: `Showing 1–50 of ${BOB_CERTIFICATES - 1} certificates` }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('adding a user: asks for 10 characters, and shows a password the server made once', async () => {
    const steps = new Steps(artifactDir('robustness-add-user'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ADMIN, PASSWORD);
    await page.goto('/#/admin/users');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    const pw = page.getByLabel('Initial password');
    expect(await page.locator(`#${await pw.getAttribute('aria-describedby')}`).textContent()).toMatch(/at least 10 characters/i);
    expect(await pw.getAttribute('autocomplete')).toBe('off');

    await page.getByLabel('Email').fill('dave@example.test');
    await pw.fill('short');
    const posts = await postPathsDuring(page, async () => {
      await page.getByRole('button', { name: 'Add user' }).click();
      await page.getByRole('alert').filter({ hasText: 'at least 10 characters' }).waitFor();
    });
    expect(posts).toEqual([]);
    await expect(isFocused(pw)).resolves.toBe(true);

    // No password: the server makes one and returns it once (as generated_password). Older servers do not; the
    // test then supplies one, to check what the page does with it.
    let supplied: string | undefined;
    await page.route('**/api/v1/users', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      const response = await route.fetch();
      const json = (await response.json()) as Record<string, unknown>;
      if (response.status() === 201 && typeof json.generated_password !== 'string') json.generated_password = supplied = 'Made-up one time 7481';
      await route.fulfill({ response, json });
    });
    await pw.fill('');
    const sent: string[] = [];
    page.on('request', (r) => void (r.method() === 'POST' && sent.push(r.postData() ?? '')));
    await page.getByRole('button', { name: 'Add user' }).click();
    const heading = page.getByRole('heading', { name: 'dave@example.test was added' });
    await heading.waitFor();
    await expect(isFocused(heading)).resolves.toBe(true);
    expect(JSON.parse(sent[0] as string)).not.toHaveProperty('password');
    const shown = (await page.getByTestId('generated-password').textContent()) as string;
    expect(shown.length).toBeGreaterThanOrEqual(10);
    if (supplied) expect(shown).toBe(supplied);
    else expect((await new HttpClient(env.url).login('dave@example.test', shown)).status).toBe(200);
    await page.getByText('Copy it now: it is shown only this once').waitFor();
    await steps.shot(page, 'generated-password');

    await page.getByRole('link', { name: 'Done, back to users' }).click();
    await page.locator('tr[data-email="dave@example.test"]').waitFor();
    await expect(page.getByTestId('generated-password').count()).resolves.toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });
});
