import type { Config } from '../../config.ts';
import type { LdapDirectory } from '../../directory/ldap-directory.ts';
import type { VerifiedIdentity } from '../../enrolment/sign-in.ts';
import type { HttpCapabilities } from '../capabilities.ts';

export type { VerifiedIdentity } from '../../enrolment/sign-in.ts';

/**
 * One interface for every way a person proves who they are. A provider only verifies: it yields
 * the identity it has checked (address, provider, subject, and what it knows of admin rights and
 * aliases); turning that into a mailca user, counting attempts and auditing are common to all
 * (src/enrolment/login.ts, src/enrolment/sign-in.ts).
 */
export interface PasswordSignInProvider {
  readonly name: string;
  readonly kind: 'password';
  /** Called once at start; see RedirectSignInProvider.prepare. */
  prepare?(): Promise<void>;
  /**
   * The identity behind an address and password, or undefined if this provider does not know
   * the address or the password is wrong (the next provider is tried). Throws ServiceUnavailable
   * when it cannot tell (its directory is down).
   */
  verifyPassword(email: string, password: string, sourceIp: string | null): Promise<VerifiedIdentity | undefined>;
}

/**
 * What a redirect provider keeps in the browser's session between sending the browser away and
 * its return (state, nonce, PKCE verifier): plain strings, stored with the session.
 */
export type PendingSignIn = Record<string, string>;

/**
 * A provider the browser is sent to (OpenID Connect): GET /api/v1/sign-in/<name> starts it and
 * GET /api/v1/sign-in/<name>/callback ends it (src/http/routes/sign-in.ts). The portal shows
 * "Sign in with <label>".
 */
export interface RedirectSignInProvider {
  readonly name: string;
  readonly kind: 'redirect';
  readonly label: string;
  /**
   * Called once at start (e.g. OpenID discovery): a configuration error stops the start
   * (ConfigError); a provider that cannot be reached yet is retried when someone signs in.
   */
  prepare?(): Promise<void>;
  /** Where to send the browser, and what to keep in its session until it comes back. */
  begin(): Promise<{ location: string; pending: PendingSignIn }>;
  /**
   * The identity the provider verified, from the query of the URL the browser came back to and what was kept.
   * Throws BadRequest (a forged or stale answer), Unauthenticated (the provider refused),
   * Forbidden (an identity mailca does not accept) or ServiceUnavailable (the provider cannot be reached).
   */
  complete(callbackQuery: URLSearchParams, pending: PendingSignIn): Promise<VerifiedIdentity>;
}

export type SignInProvider = PasswordSignInProvider | RedirectSignInProvider;

/** What a provider module may use to build itself. */
export interface SignInDependencies extends Pick<HttpCapabilities, 'enrolment' | 'reads' | 'log'> {
  config: Config;
  /** The LDAP directory, when MAILCA_SIGN_IN names ldap. */
  directory?: LdapDirectory;
}

export type SignInProviderFactory<P extends SignInProvider = SignInProvider> = (deps: SignInDependencies) => P;
