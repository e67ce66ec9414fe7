import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { EnrolmentContext } from '../../enrolment/context.ts';
import { localPasswordCheck, passwordLogin, type PasswordCheck } from '../../enrolment/login.ts';
import type { Store, User } from '../../store/index.ts';

/**
 * Sign-in with an address and password (POST /login, the portal form): attempts are counted and
 * audited once (src/enrolment/login.ts), and `check` tries the configured password providers in order.
 */
export interface PasswordSignIn {
  signIn(c: { email: unknown; password: unknown }, sourceIp: string | null): Promise<User>;
}

export function passwordSignIn(ctx: Pick<EnrolmentContext, 'store' | 'clock'>, check: PasswordCheck = localPasswordCheck(ctx)): PasswordSignIn {
  return {
    signIn: (c: { email: unknown; password: unknown }, sourceIp: string | null): Promise<User> => passwordLogin(ctx, { email: c.email, password: c.password, sourceIp }, check),
  };
}

/** passport with a local strategy (JSON {email, password}) and sessions holding the user id. */
export function configurePassport(store: Store, signIn: PasswordSignIn): passport.PassportStatic {
  const p = new passport.Passport();
  p.use(
    'local',
    new LocalStrategy({ usernameField: 'email', passwordField: 'password', passReqToCallback: true }, (req, email, password, done) => {
      signIn.signIn({ email, password }, req.ip ?? null).then((user) => done(null, user), (e: unknown) => done(e));
    }),
  );
  p.serializeUser((user, done) => done(null, (user as User).id));
  p.deserializeUser((id: number, done) => {
    store.users.findById(id).then(
      // A disabled user's session ends with the next request.
      (user) => done(null, user && !user.disabledAt ? user : false),
      (e: unknown) => done(e),
    );
  });
  return p as unknown as passport.PassportStatic;
}
