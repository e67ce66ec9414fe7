/**
 * Shared pieces of the portal tests in real Chromium (test/web/portal*.test.ts): the server + browser + temp dir
 * fixture, the allow-list as the MTA sees it, reading a downloaded .p12 with openssl, and small page actions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Download, Locator, Page, Request } from 'playwright-core';
import { expect } from 'vitest';
import { ensurePortalBuilt, launchChromium, openssl, opensslAll, signIn } from './browser.ts';
import { startServer, type HttpClient } from './mailca.ts';

export type PortalServer = Awaited<ReturnType<typeof startServer>>;

export interface Portal {
  env: PortalServer;
  browser: Browser;
  /** A fresh temporary directory for downloads and CSRs. */
  tmp: string;
  /** Closes the browser, stops the server and removes the temporary directory. */
  stop(): Promise<void>;
}

/** Starts a mailca server (with `serverOptions`), builds web/dist if needed, launches Chromium and makes a temp dir. */
export async function startPortal(tmpPrefix: string, serverOptions?: Parameters<typeof startServer>[0]): Promise<Portal> {
  const [env] = await Promise.all([startServer(serverOptions), ensurePortalBuilt()]);
  let browser: Browser;
  try {
    browser = await launchChromium();
  } catch (e) {
    await env.stop();
    throw e;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  return {
    env,
    browser,
    tmp,
    async stop() {
      await browser.close();
      await env.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** The SHA-256 fingerprints on the allow-list, as an MTA (or admin) token reads them. */
export async function allowlistFingerprints(api: HttpClient): Promise<string[]> {
  const res = await api.get('/api/v1/allowlist?format=json');
  expect(res.status).toBe(200);
  return (res.json.certificates as { fingerprint_sha256: string }[]).map((c) => c.fingerprint_sha256);
}

/** `openssl pkcs12 -info` of a .p12 (its report, stdout and stderr) and the certificates and key it printed; no checks. */
export function readP12(file: string, password: string, format: 'modern' | 'legacy' = 'modern'): { info: string; certs: string[]; key: string | undefined } {
  const info = opensslAll(['pkcs12', '-info', '-in', file, '-passin', `pass:${password}`, '-nodes', ...(format === 'legacy' ? ['-legacy'] : [])]);
  const certs = [...info.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)].map((m) => m[0]);
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(info)?.[0];
  return { info, certs, key };
}

/** The certificate among `certs` that is not a CA. */
export function leafOf(certs: readonly string[]): string | undefined {
  return certs.find((c) => !openssl(['x509', '-noout', '-ext', 'basicConstraints'], c).includes('CA:TRUE'));
}

/** What openssl reads from a leaf certificate (PEM). */
export function leafDetails(leaf: string) {
  return {
    leafPub: openssl(['x509', '-pubkey', '-noout'], leaf),
    fingerprint: openssl(['x509', '-noout', '-fingerprint', '-sha256'], leaf).trim().replace(/^.*Fingerprint=/, ''),
    serial: openssl(['x509', '-noout', '-serial'], leaf).trim().replace(/^serial=/, '').toLowerCase(),
    emails: openssl(['x509', '-noout', '-email'], leaf).trim().split('\n'),
  };
}

/** Signs in and waits for the landing page, "My certificates". */
export async function signInToMyCertificates(page: Page, email: string, password: string): Promise<void> {
  await signIn(page, email, password);
  await page.getByRole('heading', { level: 1, name: 'My certificates' }).waitFor();
}

/** Fills the key part of the New/Renew certificate form: ECDSA P-256, the file password twice, the modern format. */
export async function fillKeyForm(page: Page, filePassword: string): Promise<void> {
  await page.getByLabel('ECDSA P-256').check();
  await page.getByLabel('File password', { exact: true }).fill(filePassword);
  await page.getByLabel('Repeat the file password').fill(filePassword);
  await page.getByLabel('Modern (recommended)').check();
}

/** Clicks the download link named `linkName` and saves the file as `file`. */
export async function downloadTo(page: Page, linkName: string, file: string): Promise<Download> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: linkName }).click()]);
  await download.saveAs(file);
  return download;
}

/** Records the POSTs the page sends while `work` runs (path and raw body). */
export async function postsDuring(page: Page, work: () => Promise<void>): Promise<{ path: string; raw: string }[]> {
  const sent: { path: string; raw: string }[] = [];
  const onRequest = (r: Request) => {
    if (r.method() === 'POST') sent.push({ path: new URL(r.url()).pathname, raw: r.postData() ?? '' });
  };
  page.on('request', onRequest);
  try {
    await work();
  } finally {
    page.off('request', onRequest);
  }
  return sent;
}

export const isFocused = (l: Locator) => l.evaluate((el) => el === document.activeElement);
