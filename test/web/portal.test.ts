import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS } from '../../src/clock.ts';
import { artifactDir, newPortalPage, openssl, Steps } from '../helpers/browser.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, opensslCsrForKey, PASSWORD } from '../helpers/mailca.ts';
import { allowlistFingerprints, downloadTo, leafDetails, leafOf, readP12, signInToMyCertificates, startPortal, type Portal, type PortalServer } from '../helpers/portal.ts';

// The enrolment portal in real Chromium: sign in, make a key and a PKCS#12 in the browser, check the
// file with openssl, revoke from the page and watch the allow-list. Screenshots: test-artifacts/portal/.

const ALICE = 'alice@example.test';
const FILE_PASSWORD = 'Tulip harbour 42 lantern';

let env: PortalServer;
let browser: Browser;
let mta: HttpClient;
let tmp: string;
let portal: Portal | undefined;

beforeAll(async () => {
  portal = await startPortal('mailca-portal-');
  ({ env, browser, tmp } = portal);
  await addTestUser(env.m, ALICE);
  mta = new HttpClient(env.url, { authorization: `Bearer ${await addTestToken(env.m, 'admin')}` });
});

afterAll(() => portal?.stop());

/** What openssl makes of a downloaded .p12: the leaf, the CA certificate and the key, and whether they match. */
function inspectP12(file: string, format: 'modern' | 'legacy') {
  const { info, certs, key } = readP12(file, FILE_PASSWORD, format);
  expect(certs).toHaveLength(2);
  expect(key).toBeDefined();
  const leaf = leafOf(certs) as string;
  const ca = certs.find((c) => c !== leaf) as string;
  return {
    info,
    leaf,
    ca,
    keyPub: openssl(['pkey', '-pubout'], key),
    ...leafDetails(leaf),
    text: openssl(['x509', '-noout', '-text'], leaf),
  };
}

async function createCertificate(page: Page, steps: Steps, o: { device: string; key: 'ECDSA P-256' | 'RSA 2048'; format: 'modern' | 'legacy' }) {
  await page.getByRole('link', { name: 'New certificate' }).first().click();
  await page.getByRole('heading', { level: 1, name: 'New certificate' }).waitFor();
  await page.getByText('Your private key never leaves this browser').waitFor();
  await page.getByLabel('Device name').fill(o.device);
  await page.getByLabel(o.key).check();
  await page.getByLabel('File password', { exact: true }).fill(FILE_PASSWORD);
  await page.getByLabel('Repeat the file password').fill(FILE_PASSWORD);
  await page.getByLabel(o.format === 'modern' ? 'Modern (recommended)' : 'Legacy-compatible').check();
  await steps.shot(page, `new-${o.format}-form`);

  // Everything the browser sends while enrolling: the CSR and the label, never a key.
  const sent: string[] = [];
  const onRequest = (r: import('playwright-core').Request) => {
    if (r.method() === 'POST') sent.push(`${new URL(r.url()).pathname} ${r.postData() ?? ''}`);
  };
  page.on('request', onRequest);
  await page.getByRole('button', { name: 'Create certificate' }).click();
  await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });
  page.off('request', onRequest);
  expect(sent).toHaveLength(1);
  const [pathname] = (sent[0] as string).split(' ', 1) as [string];
  expect(pathname).toBe('/api/v1/enrol');
  const body = (sent[0] as string).slice(pathname.length + 1);
  const payload = JSON.parse(body) as Record<string, unknown>;
  expect(Object.keys(payload).sort()).toEqual(['csr', 'device_label']);
  expect(payload.device_label).toBe(o.device);
  expect(body).not.toMatch(/PRIVATE KEY/);
  expect(payload.csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  await expect(page.getByRole('heading', { name: 'Your certificate is ready' }).evaluate((el) => el === document.activeElement)).resolves.toBe(true);
  await steps.shot(page, `new-${o.format}-ready`);

  const file = path.join(tmp, `${o.format}.p12`);
  const download = await downloadTo(page, `Download ${ALICE}.p12`, file);
  expect(download.suggestedFilename()).toBe(`${ALICE}.p12`);
  return { file, payload };
}

describe('enrolment portal (Chromium)', () => {
  it('refuses a wrong password with an error in words and stays signed out', async () => {
    const steps = new Steps(artifactDir('sign-in'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await page.goto('/');
    await steps.shot(page, 'sign-in');
    // Focus starts in the Email field; the form works from the keyboard.
    await expect(page.getByLabel('Email').evaluate((el) => el === document.activeElement)).resolves.toBe(true);
    await page.keyboard.type(ALICE);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/email address or password is not correct/i);
    await steps.shot(page, 'wrong-password');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/v1/me')).status)).toBe(401);
    expect(await page.evaluate(async () => (await fetch('/api/v1/me/certificates')).status)).toBe(401);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('signs in, makes certificates in both file formats that openssl opens, and revokes one from the page', async () => {
    const steps = new Steps(artifactDir('enrol'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await page.getByText('You have no certificates yet').waitFor();
    await steps.shot(page, 'my-certificates-empty');

    const made: Record<string, ReturnType<typeof inspectP12>> = {};
    for (const o of [
      { device: 'Laptop Thunderbird', key: 'ECDSA P-256', format: 'modern' },
      { device: 'Old Outlook PC', key: 'RSA 2048', format: 'legacy' },
    ] as const) {
      const { file, payload } = await createCertificate(page, steps, o);
      const p12 = inspectP12(file, o.format);
      made[o.format] = p12;
      // Opens with the chosen password, holds the key, the certificate and the CA; the key matches.
      expect(p12.keyPub).toBe(p12.leafPub);
      expect(p12.emails).toEqual([ALICE]);
      expect(p12.text).toContain(`email:${ALICE}`);
      expect(p12.ca).toBe(readFileSync(path.join(env.m.config.dataDir, 'publish', 'ca.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/)?.[0]);
      expect(p12.text).toMatch(o.key === 'RSA 2048' ? /Public-Key: \(2048 bit\)[\s\S]*rsaEncryption|rsaEncryption[\s\S]*Public-Key: \(2048 bit\)/ : /id-ecPublicKey[\s\S]*prime256v1|NIST CURVE: P-256/);
      if (o.format === 'modern') {
        expect(p12.info).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
        expect(p12.info).toMatch(/MAC: sha256/);
      } else {
        expect(p12.info).toMatch(/pbeWithSHA1And3-KeyTripleDES-CBC/);
        expect(p12.info).toMatch(/MAC: sha1/);
      }
      // A wrong password does not open it.
      expect(() => openssl(['pkcs12', '-info', '-in', file, '-passin', 'pass:wrong', '-nodes', ...(o.format === 'legacy' ? ['-legacy'] : [])])).toThrow();
      // The CSR sent was for this key; the certificate's address is the signed-in user's, whatever the CSR said.
      expect(openssl(['req', '-noout', '-pubkey'], payload.csr as string)).toBe(p12.leafPub);
      expect((await allowlistFingerprints(mta)).includes(p12.fingerprint)).toBe(true);
    }

    // My certificates lists both with label, status, fingerprint and dates.
    await page.getByRole('link', { name: 'Back to my certificates' }).click();
    await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
    const modern = made.modern as ReturnType<typeof inspectP12>;
    const card = page.locator(`li[data-serial="${modern.serial}"]`);
    await card.getByRole('heading', { name: 'Laptop Thunderbird' }).waitFor();
    expect(await card.textContent()).toContain(modern.fingerprint);
    expect(await card.locator('.badge').textContent()).toBe('Active');
    expect(await card.textContent()).toMatch(/Issued.*Expires/);
    await steps.shot(page, 'my-certificates');

    // "I lost this device": cancel first (nothing happens), then confirm.
    await card.getByRole('button', { name: 'I lost this device' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await steps.shot(page, 'revoke-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await allowlistFingerprints(mta)).includes(modern.fingerprint)).toBe(true);

    await card.getByRole('button', { name: 'I lost this device' }).click();
    await dialog.getByRole('button', { name: 'Revoke certificate' }).click();
    const status = page.getByRole('status').filter({ hasText: 'is revoked' });
    await status.waitFor();
    await expect(status.evaluate((el) => el === document.activeElement)).resolves.toBe(true);
    expect(await card.locator('.badge').textContent()).toBe('Revoked');
    await expect(card.getByRole('button', { name: 'I lost this device' }).count()).resolves.toBe(0);
    await steps.shot(page, 'revoked');
    const list = await allowlistFingerprints(mta);
    expect(list.includes(modern.fingerprint)).toBe(false);
    expect(list.includes((made.legacy as ReturnType<typeof inspectP12>).fingerprint)).toBe(true);
    const mine = await mta.get(`/api/v1/certificates/${modern.serial}`);
    expect(mine.json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'keyCompromise' });

    expect(problems).toEqual([]);
    await context.close();
  });

  it('"I lost this device" says which other certificates with the same key it revoked too', async () => {
    const erin = 'erin@example.test';
    await addTestUser(env.m, erin);
    const asErin = new HttpClient(env.url);
    expect((await asErin.login(erin)).status).toBe(200);
    const { keyFile } = opensslCsr(tmp, 'erin-shared');
    const serials: string[] = [];
    for (const device of ['Erin tablet', 'Erin backup']) {
      const res = await asErin.post('/api/v1/enrol', { csr: opensslCsrForKey(keyFile, path.join(tmp, `${device.replace(' ', '-')}.csr`)), device_label: device });
      expect(res.status).toBe(201);
      serials.push(res.json.serial as string);
    }
    const [lost, twin] = serials as [string, string];
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, erin, PASSWORD);
    const card = page.locator(`li[data-serial="${lost}"]`);
    await card.getByRole('button', { name: 'I lost this device' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke certificate' }).click();
    await page.getByRole('status').filter({ hasText: `The certificate for “Erin tablet” is revoked. The mail server will no longer accept it. One other certificate uses the same key and was revoked too: serial ${twin}.` }).waitFor();
    expect(await page.locator(`li[data-serial="${twin}"] .badge`).textContent()).toBe('Revoked');
    await new Steps(artifactDir('lost-shared-key')).shot(page, 'revoked-with-twin');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows mail setup from configuration, works at phone width, and takes a CSR made with openssl', async () => {
    const steps = new Steps(artifactDir('phone'));
    const { context, page, problems } = await newPortalPage(browser, env.url, { viewport: { width: 375, height: 740 } });
    await signInToMyCertificates(page, ALICE, PASSWORD);
    const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(await noOverflow()).toBe(true);
    await steps.shot(page, 'my-certificates-phone');

    await page.getByRole('link', { name: 'Mail setup' }).click();
    await page.getByRole('heading', { level: 1, name: 'Set up your mail program' }).waitFor();
    expect(await page.getByTestId('smtp-host').textContent()).toBe('127.0.0.1');
    expect(await page.getByTestId('smtp-ports').textContent()).toBe('465 (SSL/TLS) or 587 (STARTTLS)');
    // alice is in grace (no enforcement set): her password still works, and she is told what to switch to.
    expect(await page.getByTestId('smtp-auth').textContent()).toContain('For now choose “Normal password”');
    expect(await page.getByTestId('smtp-auth').textContent()).toContain('then choose “No authentication” instead');
    for (const client of ['Thunderbird', 'Apple Mail (Mac)', 'iPhone and iPad', 'Outlook (Windows)', 'Android']) {
      await page.getByText(client, { exact: true }).waitFor();
    }
    await page.getByText('Thunderbird', { exact: true }).click();
    expect(await noOverflow()).toBe(true);
    await steps.shot(page, 'mail-setup-phone');

    await page.getByRole('link', { name: 'New certificate' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'New certificate' }).waitFor();
    expect(await noOverflow()).toBe(true);
    // Errors in words, with focus on the field to fix.
    await page.getByRole('button', { name: 'Create certificate' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/Give the device a name/);
    await expect(page.getByLabel('Device name').evaluate((el) => el === document.activeElement)).resolves.toBe(true);
    await page.getByLabel('Device name').fill('Phone');
    await page.getByLabel('File password', { exact: true }).fill('short');
    expect(await page.locator('.hint[aria-live]').textContent()).toMatch(/^Weak/);
    await page.getByRole('button', { name: 'Create certificate' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/at least 8 characters/);
    await page.getByLabel('File password', { exact: true }).fill(FILE_PASSWORD);
    expect(await page.locator('.hint[aria-live]').textContent()).toMatch(/^Strong/);
    await page.getByLabel('Repeat the file password').fill(FILE_PASSWORD + 'x');
    await page.getByRole('button', { name: 'Create certificate' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/not the same/);
    await steps.shot(page, 'new-certificate-errors-phone');

    // Advanced: upload an openssl CSR, download the PEM chain.
    const { keyFile, csrFile } = opensslCsr(tmp, 'own', 'P-256');
    await page.getByRole('link', { name: 'Advanced' }).click();
    await page.getByRole('heading', { level: 1, name: 'Advanced: your own key' }).waitFor();
    await page.getByLabel('Device name').fill('Server script');
    await page.getByLabel('Or upload the request file').setInputFiles(csrFile);
    await page.waitForFunction(() => (document.querySelector('textarea') as HTMLTextAreaElement).value.includes('BEGIN CERTIFICATE REQUEST'));
    await page.getByRole('button', { name: 'Get certificate' }).click();
    await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor();
    await steps.shot(page, 'csr-ready-phone');
    const pemFile = path.join(tmp, 'chain.pem');
    const download = await downloadTo(page, `Download ${ALICE}.pem`, pemFile);
    expect(download.suggestedFilename()).toBe(`${ALICE}.pem`);
    const pem = readFileSync(pemFile, 'utf8');
    const [leaf, ca] = [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)].map((m) => m[0]);
    expect(ca).toBeDefined();
    expect(openssl(['x509', '-pubkey', '-noout'], leaf)).toBe(openssl(['pkey', '-pubout', '-in', keyFile]));
    expect(openssl(['x509', '-noout', '-email'], leaf).trim()).toBe(ALICE);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('signs out, and follows the server when the session ends or the user is idle', async () => {
    const steps = new Steps(artifactDir('session'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await page.clock.install(); // the page's timers run normally until the test moves them
    await signInToMyCertificates(page, ALICE, PASSWORD);
    const cookie = (await context.cookies()).find((c) => c.name === 'mailca.sid');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/v1/me')).status)).toBe(401);
    await steps.shot(page, 'signed-out');

    // The server forgets the session (expired, or ended elsewhere): the next action leads to sign-in.
    const dropSessions = () => env.m.store.sessions.deleteExpired(new Date(Date.now() + 365 * DAY_MS));
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await dropSessions();
    await page.getByRole('link', { name: 'Mail setup' }).click();
    await page.getByText('Your session has ended. Please sign in again.').waitFor();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await steps.shot(page, 'session-ended');

    // Idle in the page past the server's limit (30 minutes by default): the page signs out by itself.
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await page.clock.runFor(10 * MINUTE_MS);
    await expect(page.getByRole('heading', { level: 1, name: 'My certificates' }).isVisible()).resolves.toBe(true);
    await dropSessions(); // what the server does after 30 idle minutes
    await page.clock.runFor(21 * MINUTE_MS);
    await page.getByText('You were signed out after 30 minutes without activity. Please sign in again.').waitFor();
    await steps.shot(page, 'idle-signed-out');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('keeps a non-admin out of the admin pages and APIs', async () => {
    const steps = new Steps(artifactDir('non-admin'));
    const { context, page, problems } = await newPortalPage(browser, env.url);
    await signInToMyCertificates(page, ALICE, PASSWORD);
    await expect(page.getByRole('link', { name: 'Admin' }).count()).resolves.toBe(0);
    for (const hash of ['#/admin', '#/admin/users', '#/admin/certificates']) {
      await page.goto(`/${hash}`);
      await page.getByRole('heading', { level: 1, name: 'Administrators only' }).waitFor();
    }
    await steps.shot(page, 'admin-refused');
    const statuses = await page.evaluate(async () => {
      const post = (p: string, body: unknown) => fetch(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);
      const get = (p: string) => fetch(p).then((r) => r.status);
      return [
        await get('/api/v1/overview'),
        await get('/api/v1/users'),
        await get('/api/v1/certificates'),
        await get('/api/v1/certificate-search?q=alice'),
        await get('/api/v1/audit'),
        await post('/api/v1/users', { email: 'mallory@example.test', password: 'x'.repeat(16) }),
        await post('/api/v1/certificates/0123/revoke', { reason: 'unspecified' }),
        await post('/api/v1/users/alice@example.test/disable', {}),
      ];
    });
    expect(statuses).toEqual([403, 403, 403, 403, 403, 403, 403, 403]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
