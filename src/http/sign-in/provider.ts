import type { Config } from '../../config.ts';
import type { LdapDirectory } from '../../directory/ldap-directory.ts';
import type { EnrolmentContext } from '../../enrolment/context.ts';
import type { VerifiedIdentity } from '../../enrolment/sign-in.ts';

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
  /**
   * The identity behind an address and password, or undefined if this provider does not know
   * the address or the password is wrong (the next provider is tried). Throws ServiceUnavailable
   * when it cannot tell (its directory is down).
   */
  verifyPassword(email: string, password: string, sourceIp: string | null): Promise<VerifiedIdentity | undefined>;
}

/** What a provider module may use to build itself. */
export interface SignInDependencies {
  ctx: EnrolmentContext;
  config: Config;
  /** The LDAP directory, when MAILCA_SIGN_IN names ldap. */
  directory?: LdapDirectory;
}

export type SignInProviderFactory = (deps: SignInDependencies) => PasswordSignInProvider;
