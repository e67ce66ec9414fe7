import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect, onTestFailed } from 'vitest';
import { PROJECT_ROOT } from '../../src/main.ts';

/** Debian's Chromium; tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];

/** Builds web/dist if it is missing or stale (a clean clone in CI has none); concurrent test files wait for one build. */
export async function ensurePortalBuilt(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'web', 'build-if-missing.mjs')], { cwd: PROJECT_ROOT });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts', 'portal', process.env.MAILCA_TEST_DB ?? 'sqlite');

/** A fresh directory for one test's screenshots: test-artifacts/portal/<project>/<suite>/ (gitignored). */
export function artifactDir(suite: string): string {
  const dir = path.join(ARTIFACTS, suite);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export class Steps {
  private n = 0;
  constructor(readonly dir: string) {}
  /** Saves a full-page screenshot named by step number. */
  async shot(page: Page, name: string): Promise<string> {
    this.n += 1;
    const file = path.join(this.dir, `${String(this.n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }
}

/**
 * A fresh browser context (own cookies; call inside a test, and a failure saves a screenshot) that records page errors, console errors and CSP
 * violations, so a test can assert the portal ran cleanly under the server's CSP.
 */
export async function newPortalPage(browser: Browser, baseURL: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ baseURL, acceptDownloads: true, viewport: opts.viewport ?? { width: 1100, height: 850 } });
  const page = await context.newPage();
  const problems: string[] = [];
  const failureShot = path.join(ARTIFACTS, 'failures', `${(expect.getState().currentTestName ?? 'test').replace(/[^a-z0-9]+/gi, '-').slice(0, 100)}.png`);
  rmSync(failureShot, { force: true });
  onTestFailed(async () => {
    mkdirSync(path.dirname(failureShot), { recursive: true });
    if (!page.isClosed()) await page.screenshot({ path: failureShot, fullPage: true }).catch(() => undefined);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // The browser logs failed requests the portal handles itself (401 when signed out, a wrong password, 403s).
    if (m.type() === 'error' && !/status of (401|403|409)/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return { context, page, problems };
}

export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Runs openssl; throws with its stderr on failure. */
export function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

/** Runs openssl and returns stdout and stderr together (pkcs12 -info reports the algorithms on stderr). */
export function opensslAll(args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  return r.stdout + r.stderr;
}
