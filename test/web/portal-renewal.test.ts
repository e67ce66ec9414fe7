import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { artifactDir, newPortalPage, openssl, Steps } from '../helpers/browser.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, PASSWORD } from '../helpers/mailca.ts';
import {
  allowlistFingerprints,
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

// Renewal in the portal, in real Chromium: a 90-day certificate gets Renew in its last 30 days; the
// successor's key is made in the browser and packed into a new .p12; both certificates are on the
// allow-list during the overlap, and "I've installed the new certificate everywhere" retires the old one.
// Screenshots: test-artifacts/portal/<project>/renewal/.

const ALICE = 'alice@example.test';
const DEVICE = 'Laptop Thunderbird';
const FILE_PASSWORD = 'Tulip harbour 42 lantern';

let env: PortalServer;
let browser: Browser;
let mta: HttpClient;
let tmp: string;
let portal: Portal | undefined;

beforeAll(async () => {
  portal = await startPortal('mailca-portal-renewal-', { certLifetimeDays: 90, renewalWindowDays: 30, renewalOverlapDays: 7 });
  ({ env, browser, tmp } = portal);
  await addTestUser(env.m, ALICE);
  mta = new HttpClient(env.url, { authorization: `Bearer ${await addTestToken(env.m, 'mta')}` });
});

afterAll(() => portal?.stop());

/** The key and leaf of a modern .p12, as openssl reads them. */
function inspectP12(file: string) {
  const { info, certs, key } = readP12(file, FILE_PASSWORD);
  expect(certs).toHaveLength(2);
  expect(key).toBeDefined();
  const leaf = leafOf(certs) as string;
  return { info, keyPub: openssl(['pkey', '-pubout'], key), ...leafDetails(leaf) };
}

async function saveP12(page: Page, name: string): Promise<string> {
  const file = path.join(tmp, `${name}.p12`);
  const download = await downloadTo(page, `Download ${ALICE}.p12`, file);
  expect(download.suggestedFilename()).toBe(`${ALICE}.p12`);
  return file;
}

describe('renewal in the portal (Chromium)', () => {
  it('offers Renew in the window, makes a new key and .p12, keeps both listed for the overlap, and ends it on request', async () => {
    const steps = new Steps(artifactDir('renewal'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    // The page's clock follows the server's test clock, as a real browser's clock follows the real one.
    await page.clock.install({ time: env.clock.now() });
    await signInToMyCertificates(page, ALICE, PASSWORD);

    // Enrol a certificate the usual way.
    await page.getByRole('link', { name: 'New certificate' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'New certificate' }).waitFor();
    await page.getByLabel('Device name').fill(DEVICE);
    await fillKeyForm(page, FILE_PASSWORD);
    await page.getByRole('button', { name: 'Create certificate' }).click();
    await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });
    const first = inspectP12(await saveP12(page, 'first'));
    expect(first.keyPub).toBe(first.leafPub);

    // Fresh certificate: no Renew yet, and the card says when renewal opens.
    await page.getByRole('link', { name: 'Back to my certificates' }).click();
    await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
    const oldCard = page.locator(`li[data-serial="${first.serial}"]`);
    await oldCard.getByRole('heading', { name: DEVICE }).waitFor();
    expect(await oldCard.locator('.badge').textContent()).toBe('Active');
    expect(await oldCard.textContent()).toContain('Renewal opens');
    await expect(page.getByRole('link', { name: 'Renew', exact: true }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /Renew/ }).count()).resolves.toBe(0);
    await steps.shot(page, 'before-window');

    // 61 days later the last 30 days have begun: Renew is offered, and the status says "Expiring soon".
    env.clock.advance(61 * DAY_MS);
    await page.clock.setSystemTime(env.clock.now());
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
    const renew = oldCard.getByRole('link', { name: 'Renew', exact: true });
    await renew.waitFor();
    expect(await oldCard.locator('.badge').textContent()).toBe('Expiring soon');
    expect(await oldCard.textContent()).not.toContain('Renewal opens');
    await steps.shot(page, 'in-window');

    // The renew form: like New certificate, with the device name kept.
    await renew.click();
    await page.getByRole('heading', { level: 1, name: 'Renew certificate' }).waitFor();
    await page.getByText('Your private key never leaves this browser').waitFor();
    expect(await page.getByLabel('Device name').inputValue()).toBe(DEVICE);
    await expect(page.getByRole('link', { name: 'My certificates' }).getAttribute('aria-current')).resolves.toBe('page');
    await fillKeyForm(page, FILE_PASSWORD);
    expect(await page.locator('.hint[aria-live]').textContent()).toMatch(/^Strong/);
    await steps.shot(page, 'renew-form');

    // Only the CSR and the label go to the renew endpoint; never a key.
    const sent = await postsDuring(page, async () => {
      await page.getByRole('button', { name: 'Renew certificate' }).click();
      await page.getByRole('heading', { name: 'Your new certificate is ready' }).waitFor({ timeout: 30_000 });
    });
    expect(sent.map((s) => s.path)).toEqual([`/api/v1/me/certificates/${first.serial}/renew`]);
    const renewBody = JSON.parse(sent[0]!.raw) as Record<string, unknown>;
    expect(Object.keys(renewBody).sort()).toEqual(['csr', 'device_label']);
    expect(renewBody.device_label).toBe(DEVICE);
    expect(sent[0]!.raw).not.toMatch(/PRIVATE KEY/);
    await expect(isFocused(page.getByRole('heading', { name: 'Your new certificate is ready' }))).resolves.toBe(true);
    const note = page.getByTestId('overlap-note');
    expect(await note.textContent()).toMatch(/old certificate keeps working until .+\d/);
    await page.getByRole('button', { name: 'I’ve installed the new certificate everywhere' }).waitFor();
    await steps.shot(page, 'renewed-ready');

    // The new .p12: opens with the password, holds a NEW key that matches the new certificate, same address.
    const second = inspectP12(await saveP12(page, 'renewed'));
    expect(second.info).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
    expect(second.keyPub).toBe(second.leafPub);
    expect(second.keyPub).not.toBe(first.keyPub);
    expect(second.serial).not.toBe(first.serial);
    expect(second.emails).toEqual([ALICE]);
    expect(openssl(['req', '-noout', '-pubkey'], renewBody.csr as string)).toBe(second.leafPub);

    // During the overlap the mail server accepts both.
    let list = await allowlistFingerprints(mta);
    expect(list).toContain(first.fingerprint);
    expect(list).toContain(second.fingerprint);

    // My certificates: the old one says when it stops working and offers to end the overlap; the new one is active.
    await page.getByRole('link', { name: 'Back to my certificates' }).click();
    await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
    const newCard = page.locator(`li[data-serial="${second.serial}"]`);
    await newCard.getByRole('heading', { name: DEVICE }).waitFor();
    expect(await newCard.locator('.badge').textContent()).toBe('Active');
    expect(await newCard.textContent()).toContain(first.serial); // "Renews …"
    await expect(newCard.getByRole('link', { name: 'Renew', exact: true }).count()).resolves.toBe(0);
    expect(await oldCard.locator('.badge').textContent()).toBe('Renewed');
    expect(await oldCard.getByTestId('renewed-note').textContent()).toMatch(/^Renewed — the old certificate stops working on .+\d/);
    await expect(oldCard.getByRole('link', { name: 'Renew', exact: true }).count()).resolves.toBe(0);
    await steps.shot(page, 'overlap');

    // At phone width the list and the renewed card fit.
    await page.setViewportSize({ width: 375, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await steps.shot(page, 'overlap-phone');
    await page.setViewportSize({ width: 1100, height: 850 });

    // End the overlap: cancel first (nothing happens), then confirm.
    const endOverlap = oldCard.getByRole('button', { name: 'I’ve installed the new certificate everywhere' });
    await endOverlap.click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await steps.shot(page, 'end-overlap-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect(isFocused(endOverlap)).resolves.toBe(true);
    expect(await allowlistFingerprints(mta)).toContain(first.fingerprint);

    await endOverlap.click();
    await dialog.getByRole('button', { name: 'Stop the old certificate' }).click();
    const status = page.getByRole('status').filter({ hasText: 'is retired' });
    await status.waitFor();
    await expect(isFocused(status)).resolves.toBe(true);
    expect(await oldCard.locator('.badge').textContent()).toBe('Revoked');
    expect(await oldCard.textContent()).toContain('superseded');
    await expect(oldCard.getByRole('button').count()).resolves.toBe(0);
    expect(await newCard.locator('.badge').textContent()).toBe('Active');
    await steps.shot(page, 'overlap-ended');

    list = await allowlistFingerprints(mta);
    expect(list).not.toContain(first.fingerprint);
    expect(list).toContain(second.fingerprint);
    const old = await new HttpClient(env.url, { authorization: `Bearer ${await addTestToken(env.m, 'admin', 'admin-check')}` }).get(`/api/v1/certificates/${first.serial}`);
    expect(old.json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'superseded' });

    // A stale renew address explains itself instead of offering the form.
    await page.goto(`/#/renew/${first.serial}`);
    await page.getByRole('heading', { level: 1, name: 'Renew certificate' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/already renewed/);
    await expect(page.getByRole('button', { name: 'Renew certificate' }).count()).resolves.toBe(0);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('renews at phone width and ends the overlap from the download page', async () => {
    const steps = new Steps(artifactDir('renewal-phone'));
    // A certificate made elsewhere (openssl) renews in the browser all the same.
    const asAlice = new HttpClient(env.url);
    expect((await asAlice.login(ALICE)).status).toBe(200);
    const enrolled = await asAlice.post('/api/v1/enrol', { csr: opensslCsr(tmp, 'iphone').csrPem, device_label: 'Work iPhone' });
    expect(enrolled.status, enrolled.text).toBe(201);
    const oldSerial = enrolled.json.serial as string;
    const oldFingerprint = enrolled.json.fingerprint_sha256 as string;
    env.clock.advance(61 * DAY_MS);

    const { context, page, problems } = await newPortalPage(browser, env.url, { viewport: { width: 375, height: 740 } });
    await page.clock.install({ time: env.clock.now() });
    await signInToMyCertificates(page, ALICE, PASSWORD);
    const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    const card = page.locator(`li[data-serial="${oldSerial}"]`);
    await card.getByRole('link', { name: 'Renew', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Renew certificate' }).waitFor();
    expect(await page.getByLabel('Device name').inputValue()).toBe('Work iPhone');
    expect(await noOverflow()).toBe(true);
    // Same checks as New certificate: errors in words, focus on the field to fix.
    await page.getByLabel('File password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Renew certificate' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/at least 8 characters/);
    await expect(page.getByLabel('File password', { exact: true }).evaluate((el) => el === document.activeElement)).resolves.toBe(true);
    await fillKeyForm(page, FILE_PASSWORD);
    await steps.shot(page, 'renew-form-phone');
    await page.getByRole('button', { name: 'Renew certificate' }).click();
    await page.getByRole('heading', { name: 'Your new certificate is ready' }).waitFor({ timeout: 30_000 });
    expect(await noOverflow()).toBe(true);
    await steps.shot(page, 'renewed-ready-phone');
    const renewed = inspectP12(await saveP12(page, 'iphone-renewed'));
    expect(renewed.keyPub).toBe(renewed.leafPub);
    expect(renewed.keyPub).not.toBe(openssl(['pkey', '-pubout', '-in', path.join(tmp, 'iphone.key')]));
    expect(await allowlistFingerprints(mta)).toEqual(expect.arrayContaining([oldFingerprint, renewed.fingerprint]));

    await page.getByRole('button', { name: 'I’ve installed the new certificate everywhere' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Stop the old certificate' }).click();
    await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
    const status = page.getByRole('status').filter({ hasText: 'is retired' });
    await status.waitFor();
    await expect(isFocused(status)).resolves.toBe(true);
    expect(await card.locator('.badge').textContent()).toBe('Revoked');
    expect(await card.textContent()).toContain('superseded');
    expect(await page.locator(`li[data-serial="${renewed.serial}"] .badge`).textContent()).toBe('Active');
    expect(await noOverflow()).toBe(true);
    await steps.shot(page, 'overlap-ended-phone');
    const list = await allowlistFingerprints(mta);
    expect(list).not.toContain(oldFingerprint);
    expect(list).toContain(renewed.fingerprint);
    expect(problems).toEqual([]);
    await context.close();
  });
});
