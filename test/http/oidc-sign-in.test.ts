import path from 'node:path';
import { pino } from 'pino';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityFromClaims } from '../../src/http/sign-in/oidc.ts';
import { serve } from '../../src/main.ts';
import { newPortalPage } from '../helpers/browser.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { addTestUser, HttpClient, testConfig } from '../helpers/mailca.ts';
import { freePort } from '../helpers/net.ts';
import { loginAtProvider, TestOpenIdProvider } from '../helpers/oidc.ts';
import { downloadTo, fillKeyForm, leafDetails, leafOf, readP12, startPortal, type Portal } from '../helpers/portal.ts';

// One OpenID provider and one mailca (MAILCA_SIGN_IN=local,oidc) for the file. The portal is at
// http://localhost:<port> and the provider at http://127.0.0.1:<port>: two sites, as in real life,
// so the browser's SameSite rules apply to the round trip.
const ACCOUNTS = new Map<string, Record<string, unknown>>([
  ['olga', { email: 'Olga@Example.test', email_verified: true, name: 'Olga Openid', groups: ['staff'] }],
  ['adam', { email: 'adam@example.test', email_verified: true, groups: ['staff', 'mail-admins'] }],
  ['vera', { email: 'vera@example.test', email_verified: false }],
  ['nomail', { name: 'No Mail' }],
  ['alice', { email: 'alice@example.test', email_verified: true }],
  ['mallory', { email: '"><img src=x onerror=alert(1)>@example.test', email_verified: true }],
]);
const FILE_PASSWORD = 'file password for the test';

let idp: TestOpenIdProvider;
let portal: Portal;
let publicUrl: string;

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://localhost:${port}`;
  idp = await TestOpenIdProvider.start({ redirectUri: `${publicUrl}/api/v1/sign-in/oidc/callback`, accounts: ACCOUNTS });
  portal = await startPortal('mailca-oidc-test-', {
    listen: `127.0.0.1:${port}`,
    publicUrl,
    signIn: 'local,oidc',
    ...idp.config(),
    oidcName: 'Example Login',
    oidcScopes: 'openid email profile groups',
    oidcAdminClaim: 'groups=mail-admins',
  });
  await addTestUser(portal.env.m, 'alice@example.test');
});
afterAll(async () => {
  await portal?.stop();
  await idp?.stop();
});

const user = (email: string) => portal.env.m.store.users.findByEmail(email);
const lastEvent = async (action: string, target?: string) => (await portal.env.m.store.audit.list({ action, target, limit: 1, offset: 0 })).items[0];

/**
 * From the portal's button through the provider's login form; resolves with mailca's answer to the
 * callback. `tamperState` changes the state on its way to the provider (which returns it as given).
 */
async function signInWithProvider(page: Page, login: string, tamperState?: string): Promise<Response> {
  await page.goto('/');
  if (tamperState) {
    await page.route('**/api/v1/sign-in/oidc', async (route) => {
      const res = await route.fetch({ maxRedirects: 0 });
      const location = new URL(res.headers().location!);
      location.searchParams.set('state', tamperState);
      await route.fulfill({ response: res, headers: { ...res.headers(), location: location.href } });
    });
  }
  await page.getByRole('link', { name: 'Sign in with Example Login' }).click();
  const callback = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/sign-in/oidc/callback');
  await loginAtProvider(page, login);
  return callback;
}

async function withPortalPage(work: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const { context, page, problems } = await newPortalPage(portal.browser, publicUrl);
  // The test provider's pages import a web font: the browser stays on this machine.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|localhost[:/])/, (route) => route.fulfill({ status: 200, contentType: 'text/css', body: '' }));
  try {
    await work(page, context);
    // The callback's refusals are 4xx answers the portal shows in words.
    expect(problems.filter((p) => !/status of 40[03]/.test(p))).toEqual([]);
  } finally {
    await context.close();
  }
}

describe('OpenID Connect sign-in', () => {
  it('tells the portal how to sign in', async () => {
    const res = await new HttpClient(portal.env.url).get('/api/v1/sign-in');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ password: true, providers: [{ name: 'oidc', label: 'Example Login', start: '/api/v1/sign-in/oidc' }] });
    // A sign-in is started from the portal, not by a link on another site (that would sign this browser out).
    const foreign = await new HttpClient(portal.env.url).get('/api/v1/sign-in/oidc', { 'sec-fetch-site': 'cross-site' });
    expect(foreign.status).toBe(303);
    expect(foreign.headers.get('location')).toBe('/');
    expect(foreign.headers.get('set-cookie')).toBeNull();
  });

  it('signs in from the portal button, creates the user and issues for the verified address', async () => {
    expect(await user('olga@example.test')).toBeUndefined();
    await withPortalPage(async (page, context) => {
      const start = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/sign-in/oidc');
      const callback = await signInWithProvider(page, 'olga');
      // The provider got a code flow with PKCE (S256), state and nonce, and the registered redirect URI.
      const authorize = new URL((await (await start).response())!.headers().location!);
      expect(authorize.origin).toBe(idp.issuer);
      expect(Object.fromEntries(['response_type', 'code_challenge_method', 'redirect_uri', 'scope'].map((k) => [k, authorize.searchParams.get(k)]))).toEqual({
        response_type: 'code',
        code_challenge_method: 'S256',
        redirect_uri: `${publicUrl}/api/v1/sign-in/oidc/callback`,
        scope: 'openid email profile groups',
      });
      for (const k of ['code_challenge', 'state', 'nonce']) expect(authorize.searchParams.get(k)?.length, k).toBeGreaterThan(20);
      expect(callback.status()).toBe(303);
      await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
      await page.getByText('olga@example.test').first().waitFor();
      expect(new URL(page.url()).pathname).toBe('/');
      // The signed-in session's cookie is SameSite=Strict again (the Lax one held only the started sign-in).
      const cookie = (await context.cookies(publicUrl)).find((c) => c.name === 'mailca.sid');
      expect(cookie).toMatchObject({ sameSite: 'Strict', httpOnly: true });

      await page.getByRole('link', { name: 'New certificate' }).first().click();
      await page.getByLabel('Device name').fill('Laptop');
      await fillKeyForm(page, FILE_PASSWORD);
      await page.getByRole('button', { name: 'Create certificate' }).click();
      await page.getByRole('heading', { name: 'Your certificate is ready' }).waitFor({ timeout: 30_000 });
      const file = path.join(portal.tmp, 'olga.p12');
      await downloadTo(page, 'Download olga@example.test.p12', file);
      const leaf = leafOf(readP12(file, FILE_PASSWORD).certs);
      expect(leaf).toBeDefined();
      expect(leafDetails(leaf!).emails).toEqual(['olga@example.test']);
    });
    expect(await user('olga@example.test')).toMatchObject({ identityProvider: 'oidc', identitySubject: 'olga', passwordHash: null, isAdmin: false, displayName: 'Olga Openid' });
    expect((await lastEvent('login.success', 'olga@example.test'))?.details).toEqual({ provider: 'oidc' });
    expect(await lastEvent('user.add', 'olga@example.test')).toMatchObject({ actor: 'sign-in:oidc', details: { admin: false, provider: 'oidc' } });
    expect(await lastEvent('certificate.issue')).toMatchObject({ actor: 'user:olga@example.test', details: { email: 'olga@example.test' } });
  });

  it('refuses an address the provider has not verified, and the portal says why', async () => {
    await withPortalPage(async (page) => {
      const callback = await signInWithProvider(page, 'vera');
      expect(callback.status()).toBe(403);
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/Example Login has not verified the email address vera@example\.test/);
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/');
      expect((await page.request.get('/api/v1/me')).status()).toBe(401);
    });
    expect(await user('vera@example.test')).toBeUndefined();
    expect((await lastEvent('login.failure'))?.details).toEqual({ provider: 'oidc', reason: 'oidc_email_unverified' });
  });

  it('refuses an account without an email address', async () => {
    await withPortalPage(async (page) => {
      const callback = await signInWithProvider(page, 'nomail');
      expect(callback.status()).toBe(403);
      expect(await page.getByRole('alert').textContent()).toMatch(/did not give an email address/);
    });
    expect((await lastEvent('login.failure'))?.details).toEqual({ provider: 'oidc', reason: 'oidc_email_missing' });
    expect((await portal.env.m.store.users.list()).map((u) => u.email).sort()).toEqual(['alice@example.test', 'olga@example.test']);
  });

  it('refuses an answer whose state was tampered with, before it reaches the provider', async () => {
    await withPortalPage(async (page) => {
      const callback = await signInWithProvider(page, 'olga', 'forged-state');
      expect(callback.status()).toBe(400);
      expect(await page.getByRole('alert').textContent()).toMatch(/state does not match/);
      expect((await page.request.get('/api/v1/me')).status()).toBe(401);
    });
    expect((await lastEvent('login.failure'))?.details).toEqual({ provider: 'oidc', reason: 'oidc_state_mismatch' });

    // Without a browser: an answer for no started sign-in, and a forged code for a started one.
    const c = new HttpClient(portal.env.url);
    const none = await c.get('/api/v1/sign-in/oidc/callback?code=x&state=y');
    expect(none.status).toBe(400);
    expect(none.json.error).toBe('oidc_no_sign_in');
    const start = await c.get('/api/v1/sign-in/oidc');
    expect(start.status).toBe(303);
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const forged = await c.get(`/api/v1/sign-in/oidc/callback?${new URLSearchParams({ code: 'forged-code', state, iss: idp.issuer })}`);
    expect(forged.status, forged.text).toBe(400);
    expect(forged.json.error).toBe('oidc_rejected');
    // The started sign-in was used up: its state does not work twice.
    expect((await c.get(`/api/v1/sign-in/oidc/callback?${new URLSearchParams({ code: 'x', state })}`)).json.error).toBe('oidc_no_sign_in');

    // The person cancelled at the provider: its error, in words.
    const again = new URL((await c.get('/api/v1/sign-in/oidc')).headers.get('location')!).searchParams.get('state')!;
    const cancelled = await c.get(`/api/v1/sign-in/oidc/callback?${new URLSearchParams({ error: 'access_denied', error_description: 'the user cancelled', state: again, iss: idp.issuer })}`);
    expect(cancelled.status, cancelled.text).toBe(401);
    expect(cancelled.json).toEqual({ error: 'oidc_refused', message: 'Example Login did not sign you in (access_denied: the user cancelled)' });
    expect((await lastEvent('login.failure'))?.details).toEqual({ provider: 'oidc', reason: 'oidc_refused' });
  });

  it('makes admins of the accounts with the admin claim, and follows the claim at each sign-in', async () => {
    await withPortalPage(async (page) => {
      expect((await signInWithProvider(page, 'adam')).status()).toBe(303);
      await page.getByRole('link', { name: 'Admin' }).waitFor();
      expect((await page.request.get('/api/v1/users')).status()).toBe(200);
    });
    expect((await user('adam@example.test'))?.isAdmin).toBe(true);

    ACCOUNTS.set('adam', { email: 'adam@example.test', email_verified: true, groups: 'staff' });
    await withPortalPage(async (page) => {
      expect((await signInWithProvider(page, 'adam')).status()).toBe(303);
      await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
      expect((await page.request.get('/api/v1/users')).status()).toBe(403);
    });
    expect((await user('adam@example.test'))?.isAdmin).toBe(false);
    expect(await lastEvent('user.sync', 'adam@example.test')).toMatchObject({ actor: 'sign-in:oidc', details: { provider: 'oidc', isAdmin: false } });
  });

  it("does not take over a local account's address", async () => {
    await withPortalPage(async (page) => {
      expect((await signInWithProvider(page, 'alice')).status()).toBe(403);
      expect(await page.getByRole('alert').textContent()).toMatch(/belongs to a mailca account that signs in another way/);
    });
    expect(await user('alice@example.test')).toMatchObject({ identityProvider: null, disabledAt: null });
  });

  it('shows what the provider sent as text, never as markup', async () => {
    await withPortalPage(async (page) => {
      expect((await signInWithProvider(page, 'mallory')).status()).toBe(403);
      expect(await page.getByRole('alert').textContent()).toContain('gives an address mailca cannot certify: "\"><img src=x onerror=alert(1)>@example.test"');
      expect(await page.locator('img[src="x"]').count()).toBe(0);
    });
  });

  it('signing out ends the mailca session', async () => {
    await withPortalPage(async (page) => {
      expect((await signInWithProvider(page, 'olga')).status()).toBe(303);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('You are signed out.').waitFor();
      expect((await page.request.get('/api/v1/me')).status()).toBe(401);
    });
    // The sign-out is audited after the answer.
    await expect.poll(async () => (await lastEvent('logout'))?.target).toBe('olga@example.test');
  });

  it('accepts only a verified email, and an admin claim as a string or in an array', () => {
    const policy = { label: 'IdP', adminClaim: { claim: 'groups', value: 'admins' } };
    expect(identityFromClaims({ sub: 's', email: 'A@x.test', email_verified: true, groups: 'admins' }, policy)).toMatchObject({ address: 'a@x.test', subject: 's', isAdmin: true });
    expect(identityFromClaims({ sub: 's', email: 'a@x.test', email_verified: true, groups: ['x', 'admins'] }, policy).isAdmin).toBe(true);
    expect(identityFromClaims({ sub: 's', email: 'a@x.test', email_verified: true, groups: ['administrators'] }, policy).isAdmin).toBe(false);
    expect(identityFromClaims({ sub: 's', email: 'a@x.test', email_verified: true }, { label: 'IdP' }).isAdmin).toBeUndefined();
    expect(() => identityFromClaims({ sub: 's', email: 'a@x.test', email_verified: 'true' }, policy)).toThrow(/has not verified/);
    expect(() => identityFromClaims({ sub: 's', email: 'a@x.test' }, policy)).toThrow(/has not verified/);
    expect(() => identityFromClaims({ sub: 's', email: 'K\u212Aim@x.test', email_verified: true }, policy)).toThrow(/cannot certify/);
    expect(() => identityFromClaims({ email: 'a@x.test', email_verified: true }, policy)).toThrow(/no subject/);
  });
});

describe('OpenID provider at start', () => {
  it('stops the start when the issuer is not an OpenID provider, naming MAILCA_OIDC_ISSUER', async () => {
    const db = await createTestDatabase();
    try {
      const config = testConfig(db, { publicUrl: 'http://127.0.0.1:9', signIn: 'oidc', ...idp.config(), oidcIssuer: `${idp.issuer}/not-an-issuer` });
      await expect(serve(config, { log: pino({ level: 'silent' }), scheduler: false })).rejects.toThrow(/^MAILCA_OIDC_ISSUER \(http:\/\/127\.0\.0\.1:\d+\/not-an-issuer\) is not a usable OpenID provider: .*404/);
    } finally {
      await db.drop();
    }
  });

  it('starts while the provider is down, answers 503 meanwhile, and discovers it when it is back', async () => {
    const [idpPort, port] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    const db = await createTestDatabase();
    const config = testConfig(db, { listen: `127.0.0.1:${port}`, publicUrl: url, signIn: 'oidc', ...idp.config(), oidcIssuer: `http://127.0.0.1:${idpPort}` });
    const server = await serve(config, { log: pino({ level: 'silent' }), scheduler: false });
    let late: TestOpenIdProvider | undefined;
    try {
      const c = new HttpClient(url);
      // Only the provider's button: no passwords.
      expect((await c.get('/api/v1/sign-in')).json).toEqual({ password: false, providers: [{ name: 'oidc', label: `127.0.0.1:${idpPort}`, start: '/api/v1/sign-in/oidc' }] });
      const login = await c.login('alice@example.test');
      expect(login.status).toBe(403);
      expect(login.json.error).toBe('password_sign_in_off');

      const down = await c.get('/api/v1/sign-in/oidc');
      expect(down.status).toBe(503);
      expect(down.json.error).toBe('oidc_unavailable');
      expect(String(down.json.message)).toContain(`MAILCA_OIDC_ISSUER http://127.0.0.1:${idpPort}`);
      // The lists are served meanwhile.
      expect((await c.get('/ca.pem')).status).toBe(200);

      late = await TestOpenIdProvider.start({ port: idpPort, redirectUri: `${url}/api/v1/sign-in/oidc/callback`, accounts: ACCOUNTS });
      const up = await c.get('/api/v1/sign-in/oidc');
      expect(up.status).toBe(303);
      expect(up.headers.get('location')).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${idpPort}/`));
    } finally {
      await server.stop();
      await late?.stop();
      await db.drop();
    }
  });
});
