import { dummyPasswordHash, verifyPassword } from '../../enrolment/passwords.ts';
import type { PasswordSignInProvider, SignInProviderFactory } from './provider.ts';

/** Local accounts: the scrypt password hash in mailca's own user table. */
export const localSignIn: SignInProviderFactory<PasswordSignInProvider> = ({ reads }): PasswordSignInProvider => ({
  name: 'local',
  kind: 'password',
  async verifyPassword(email, password) {
    const user = await reads.users.findByEmail(email);
    if (user?.passwordHash && !user.disabledAt && user.identityProvider === null) {
      return (await verifyPassword(password, user.passwordHash)) ? { address: user.email, provider: 'local', subject: String(user.id) } : undefined;
    }
    // Unknown users take as long as wrong passwords.
    await verifyPassword(password, await dummyPasswordHash());
    return undefined;
  },
});
