import * as client from 'openid-client';
import { isLoopbackHost } from '../../config.ts';
import { normalizeEmail } from '../../enrolment/identity.ts';
import { BadRequest, ConfigError, Forbidden, MailcaError, ServiceUnavailable, Unauthenticated } from '../../errors.ts';
import type { PendingSignIn, RedirectSignInProvider, SignInProviderFactory, VerifiedIdentity } from './provider.ts';

export const OIDC_PROVIDER = 'oidc';
/** Where the OpenID provider sends the browser back: register `<MAILCA_PUBLIC_URL>` + this as the client's redirect URI. */
export const OIDC_CALLBACK_PATH = '/api/v1/sign-in/oidc/callback';

/** Seconds a request to the OpenID provider may take. */
const TIMEOUT_SECONDS = 10;

export interface OidcClaimPolicy {
  /** MAILCA_OIDC_ADMIN_CLAIM: the claim and the value that make an admin; unset = the provider has no say. */
  adminClaim?: { claim: string; value: string };
  /** "Sign in with <label>": names the provider in messages. */
  label: string;
}

type Claims = Record<string, unknown>;

/**
 * The identity in an OpenID provider's claims. Only an `email` with `email_verified` exactly true is
 * accepted; the address must be one mailca can certify (src/enrolment/identity.ts). With an admin
 * claim configured, the user is an admin when that claim is the value or an array holding it.
 */
export function identityFromClaims(claims: Claims, policy: OidcClaimPolicy): VerifiedIdentity {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') throw new BadRequest('oidc_response_invalid', `${policy.label} sent no subject ("sub") for the person`);
  const email = claims.email;
  if (typeof email !== 'string' || email.trim() === '') {
    throw new Forbidden('oidc_email_missing', `${policy.label} did not give an email address for this account, so mailca cannot tell which address to certify (does the client get the "email" scope?)`);
  }
  if (claims.email_verified !== true) {
    throw new Forbidden('oidc_email_unverified', `${policy.label} has not verified the email address ${email.slice(0, 100)}; verify it there, then sign in again`);
  }
  let address: string;
  try {
    address = normalizeEmail(email);
  } catch (e) {
    throw new Forbidden('oidc_email_invalid', `${policy.label} gives an address mailca cannot certify: ${(e as Error).message}`);
  }
  const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim() : undefined;
  let isAdmin: boolean | undefined;
  if (policy.adminClaim) {
    const { claim, value } = policy.adminClaim;
    const v = claims[claim];
    isAdmin = v === value || (Array.isArray(v) && v.includes(value));
  }
  return { address, provider: OIDC_PROVIDER, subject: sub, displayName: name, isAdmin };
}

/** A failure to reach the provider (network, timeout, a 5xx), as opposed to an answer that is wrong. */
function isUnreachable(e: unknown): boolean {
  if (e instanceof TypeError) return true; // fetch failed: refused, unknown host, reset
  if (!(e instanceof client.ClientError)) return false;
  if (e.code === 'OAUTH_TIMEOUT' || e.code === 'OAUTH_ABORT') return true;
  return e.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && e.cause instanceof Response && e.cause.status >= 500;
}

function reasonOf(e: unknown): string {
  if (e instanceof client.ClientError && e.cause instanceof Response) return `${e.message} (HTTP ${e.cause.status})`;
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return `${(e as Error).message}${detail ? ` (${detail})` : ''}`;
}

/**
 * OpenID Connect: the authorization code flow with PKCE (S256), state and nonce (openid-client).
 * The provider is discovered at start: an issuer that answers with something that is not its
 * OpenID configuration stops the start; one that cannot be reached is retried at each sign-in
 * (which fails with 503 meanwhile), so the CA keeps serving its lists while the provider is down.
 */
export const oidcSignIn: SignInProviderFactory<RedirectSignInProvider> = ({ log, config }) => {
  const { oidcIssuer: issuer, oidcClientId: clientId, oidcClientSecret: clientSecret, publicUrl } = config;
  // src/config.ts requires these when MAILCA_SIGN_IN names oidc.
  if (!issuer || !clientId || !clientSecret || !publicUrl) {
    throw new ConfigError('config_invalid', 'MAILCA_SIGN_IN names oidc but MAILCA_OIDC_ISSUER, MAILCA_OIDC_CLIENT_ID, MAILCA_OIDC_CLIENT_SECRET or MAILCA_PUBLIC_URL is not set');
  }
  const issuerUrl = new URL(issuer);
  const label = config.oidcName ?? issuerUrl.host;
  const policy: OidcClaimPolicy = { label, adminClaim: config.oidcAdminClaim };
  const redirectUri = `${publicUrl}${OIDC_CALLBACK_PATH}`;
  // Plain http only to a provider on this machine (src/config.ts refuses it elsewhere).
  const insecure = issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname);
  const unavailable = (what: string, e: unknown) =>
    new ServiceUnavailable('oidc_unavailable', `${label} (MAILCA_OIDC_ISSUER ${issuer}) cannot be reached ${what}: ${reasonOf(e)}; try again later`);

  let discovered: Promise<client.Configuration> | undefined;
  const discover = async (): Promise<client.Configuration> => {
    try {
      // client_secret_basic: the default a provider registers a confidential client with.
      const c = await client.discovery(issuerUrl, clientId, { redirect_uris: [redirectUri], response_types: ['code'] }, client.ClientSecretBasic(clientSecret), {
        execute: insecure ? [client.allowInsecureRequests] : [],
        timeout: TIMEOUT_SECONDS,
      });
      c.timeout = TIMEOUT_SECONDS;
      return c;
    } catch (e) {
      if (isUnreachable(e)) throw unavailable('for discovery', e);
      throw new ConfigError('oidc_issuer_invalid', `MAILCA_OIDC_ISSUER (${issuer}) is not a usable OpenID provider: ${reasonOf(e)}; it must serve its configuration at ${issuer.replace(/\/$/, '')}/.well-known/openid-configuration with the same "issuer"`);
    }
  };
  /** The discovered provider; a failed discovery is tried again next time. */
  const configuration = (): Promise<client.Configuration> => {
    discovered ??= discover().catch((e: unknown) => {
      discovered = undefined;
      throw e;
    });
    return discovered;
  };
  /** A configuration error found at sign-in (after a start while the provider was down) is an outage to users, and logged for the operator. */
  const configurationForSignIn = async (): Promise<client.Configuration> => {
    try {
      return await configuration();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      log.error({ err: e.message }, 'the OpenID provider is misconfigured');
      throw new ServiceUnavailable('oidc_unavailable', `sign-in with ${label} is not working: ${e.message}`);
    }
  };

  return {
    name: OIDC_PROVIDER,
    kind: 'redirect',
    label,
    async prepare() {
      try {
        await configuration();
      } catch (e) {
        if (!(e instanceof ServiceUnavailable)) throw e;
        log.warn({ issuer, err: e.message }, 'the OpenID provider cannot be reached; sign-in with it is retried when someone signs in');
      }
    },
    async begin() {
      const c = await configurationForSignIn();
      const codeVerifier = client.randomPKCECodeVerifier();
      const pending: PendingSignIn = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier };
      const url = client.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri,
        scope: config.oidcScopes,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state: pending.state!,
        nonce: pending.nonce!,
      });
      return { location: url.href, pending };
    },
    async complete(callbackQuery, pending) {
      const { state, nonce, codeVerifier } = pending;
      if (!state || !nonce || !codeVerifier) throw new BadRequest('oidc_no_sign_in', `no sign-in with ${label} was started in this browser (or it has expired); start again`);
      // Checked here too (openid-client checks it as well), so a forged answer never reaches the provider.
      if (callbackQuery.get('state') !== state) throw new BadRequest('oidc_state_mismatch', `this answer does not belong to the sign-in started in this browser (the state does not match); start again`);
      const c = await configurationForSignIn();
      // The registered redirect URI, whatever host or proxy the request came through.
      const callbackUrl = new URL(redirectUri);
      callbackUrl.search = callbackQuery.toString();
      let claims: Claims;
      try {
        const tokens = await client.authorizationCodeGrant(c, callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
        claims = { ...(tokens.claims() ?? {}) };
        // Many providers put email (and groups) in the userinfo answer rather than the ID token.
        const wanted = ['email', 'email_verified', 'name', ...(policy.adminClaim ? [policy.adminClaim.claim] : [])];
        if (wanted.some((k) => claims[k] === undefined) && c.serverMetadata().userinfo_endpoint && typeof claims.sub === 'string') {
          const info = await client.fetchUserInfo(c, tokens.access_token, claims.sub);
          for (const k of wanted) if (claims[k] === undefined && info[k] !== undefined) claims[k] = info[k];
        }
      } catch (e) {
        throw callbackError(e, label, unavailable);
      }
      return identityFromClaims(claims, policy);
    },
  };
};

/** What went wrong with the provider's answer, as a mailca error (never a 500). */
function callbackError(e: unknown, label: string, unavailable: (what: string, e: unknown) => ServiceUnavailable): MailcaError {
  if (e instanceof MailcaError) return e;
  if (e instanceof client.AuthorizationResponseError) {
    const why = e.error_description ? `${e.error}: ${e.error_description}` : e.error;
    return new Unauthenticated('oidc_refused', `${label} did not sign you in (${why.slice(0, 200)})`);
  }
  if (isUnreachable(e)) return unavailable('to finish the sign-in', e);
  if (e instanceof client.ResponseBodyError) {
    return new BadRequest('oidc_rejected', `${label} did not accept this sign-in answer (${e.error}); it may be old or used already: start again`);
  }
  return new BadRequest('oidc_response_invalid', `the answer from ${label} did not check out (${reasonOf(e).slice(0, 200)}); start again`);
}
