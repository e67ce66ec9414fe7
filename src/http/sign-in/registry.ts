import type { SignInProviderName } from '../../config.ts';
import type { PasswordCheck } from '../../enrolment/login.ts';
import { ServiceUnavailable } from '../../errors.ts';
import { ldapSignIn } from './ldap.ts';
import { localSignIn } from './local.ts';
import { oidcSignIn } from './oidc.ts';
import type { PasswordSignInProvider, RedirectSignInProvider, SignInDependencies, SignInProvider, SignInProviderFactory } from './provider.ts';

/**
 * Every sign-in provider of this build, by its name in MAILCA_SIGN_IN. Adding one is a module
 * beside this file, its name in SIGN_IN_PROVIDERS (src/config.ts) and one line here.
 */
export const SIGN_IN_REGISTRY: Record<SignInProviderName, SignInProviderFactory> = {
  local: localSignIn,
  ldap: ldapSignIn,
  oidc: oidcSignIn,
};

/** The configured providers, in MAILCA_SIGN_IN order. */
export function buildSignInProviders(deps: SignInDependencies): SignInProvider[] {
  return deps.config.signIn.map((name) => SIGN_IN_REGISTRY[name](deps));
}

/** The providers' start-up checks (OpenID discovery); a configuration error stops the start. */
export async function prepareSignInProviders(providers: readonly SignInProvider[]): Promise<void> {
  await Promise.all(providers.map((p) => p.prepare?.()));
}

export const passwordProviders = (providers: readonly SignInProvider[]): PasswordSignInProvider[] => providers.filter((p): p is PasswordSignInProvider => p.kind === 'password');
export const redirectProviders = (providers: readonly SignInProvider[]): RedirectSignInProvider[] => providers.filter((p): p is RedirectSignInProvider => p.kind === 'redirect');

/**
 * Tries the password providers in order; the first that verifies the address and password wins,
 * and the identity it verified becomes (or finds) the mailca user. If none does and one could not
 * answer (its directory is down), the attempt fails with that error rather than as a wrong password.
 */
export function passwordCheckFor(deps: Pick<SignInDependencies, 'enrolment' | 'log'>, providers: readonly PasswordSignInProvider[]): PasswordCheck {
  return async (email, password, sourceIp) => {
    let unavailable: ServiceUnavailable | undefined;
    for (const provider of providers) {
      let identity;
      try {
        identity = await provider.verifyPassword(email, password, sourceIp);
      } catch (e) {
        if (!(e instanceof ServiceUnavailable)) throw e;
        deps.log.warn({ provider: provider.name, err: e.message }, 'a sign-in provider could not answer');
        unavailable ??= e;
        continue;
      }
      if (!identity) continue;
      const user = await deps.enrolment.admitIdentity(identity, sourceIp);
      if (user) return { user, provider: provider.name };
    }
    if (unavailable) throw unavailable;
    return undefined;
  };
}
