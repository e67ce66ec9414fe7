import { ldapIdentity, LDAP_PROVIDER } from '../../enrolment/directory-sync.ts';
import { providerActor } from '../../enrolment/sign-in.ts';
import { ConfigError } from '../../errors.ts';
import type { PasswordSignInProvider, SignInProviderFactory } from './provider.ts';

/**
 * The LDAP directory: the address is looked up with the search account (MAILCA_LDAP_USER_FILTER,
 * the address escaped as RFC 4515 says) and the password checked by binding as the entry's DN.
 * A directory user whom the directory no longer has is disabled (certificates revoked) at this
 * attempt. A directory that cannot be reached makes the attempt fail (503); nobody is disabled.
 */
export const ldapSignIn: SignInProviderFactory<PasswordSignInProvider> = ({ enrolment, reads, log, directory }): PasswordSignInProvider => {
  if (!directory) throw new ConfigError('config_invalid', 'MAILCA_SIGN_IN names ldap but no directory is configured (MAILCA_LDAP_URL, MAILCA_LDAP_BASE_DN)');
  return {
    name: LDAP_PROVIDER,
    kind: 'password',
    async verifyPassword(email, password, sourceIp) {
      if (password === '') return undefined; // an empty password is refused before any bind
      const lookup = await directory.findByAddress(email);
      if (lookup.status === 'absent') {
        const user = await reads.users.findByEmail(email);
        if (user && user.identityProvider === LDAP_PROVIDER && !user.disabledAt) await enrolment.disableLeaver(providerActor(LDAP_PROVIDER, sourceIp), user);
        return undefined;
      }
      if (lookup.status === 'unusable') {
        log.warn({ email, reason: lookup.reason }, 'the directory has no single usable entry for this address');
        return undefined;
      }
      return (await directory.checkPassword(lookup.entry.dn, password)) ? ldapIdentity(lookup.entry) : undefined;
    },
  };
};
