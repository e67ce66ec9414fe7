import http from 'node:http';
import Provider from 'oidc-provider';
import type { Page } from 'playwright-core';
import { freePort } from './net.ts';

/**
 * A real OpenID provider (oidc-provider, by the author of openid-client) in the test process on
 * 127.0.0.1. Its development interactions accept any login on an HTML form; the login name is
 * the account's `sub`, and `accounts` says which claims each one has (changeable between sign-ins).
 * Claims other than `sub` reach mailca through the userinfo endpoint, as many providers do.
 */
export class TestOpenIdProvider {
  static readonly CLIENT_ID = 'mailca-test';
  static readonly CLIENT_SECRET = 'a client secret for the mailca test';

  private constructor(
    readonly issuer: string,
    readonly port: number,
    private readonly server: http.Server,
  ) {}

  /** Starts on `port` (default a free one), with one client whose redirect URI is `redirectUri`. */
  static async start(o: { redirectUri: string; accounts: Map<string, Record<string, unknown>>; port?: number }): Promise<TestOpenIdProvider> {
    const port = o.port ?? (await freePort());
    const issuer = `http://127.0.0.1:${port}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: TestOpenIdProvider.CLIENT_ID,
          client_secret: TestOpenIdProvider.CLIENT_SECRET,
          redirect_uris: [o.redirectUri],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, ...(o.accounts.get(sub) ?? {}) }) }),
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
      scopes: ['openid', 'email', 'profile', 'groups'],
      pkce: { required: () => true },
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['a cookie key for the test provider'] },
    });
    // Its development warnings (dev keys, dev interactions) are expected here.
    provider.on('server_error', (...args: unknown[]) => console.error('oidc-provider server_error', ...args));
    const server = http.createServer(provider.callback());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new TestOpenIdProvider(issuer, port, server);
  }

  /** MAILCA_* settings for this provider and its client. */
  config() {
    return { oidcIssuer: this.issuer, oidcClientId: TestOpenIdProvider.CLIENT_ID, oidcClientSecret: TestOpenIdProvider.CLIENT_SECRET };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** At the provider's development login form: signs in as `login` (any password) and consents. */
export async function loginAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}
