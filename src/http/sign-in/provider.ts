import type { User } from '../../store/index.ts';

/**
 * One interface for every way a person proves who they are (password now; OIDC or LDAP later).
 * Each yields the same thing: a verified, enabled mailca user.
 */
export interface SignInProvider {
  readonly name: string;
  signIn(credentials: Record<string, unknown>, sourceIp: string | null): Promise<User>;
}
