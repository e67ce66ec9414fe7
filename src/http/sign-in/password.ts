import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { EnrolmentContext } from '../../enrolment/context.ts';
import { passwordLogin } from '../../enrolment/login.ts';
import type { Store, User } from '../../store/index.ts';
import type { SignInProvider } from './provider.ts';

export function passwordSignIn(ctx: Pick<EnrolmentContext, 'store' | 'clock'>): SignInProvider {
  return {
    name: 'password',
    signIn: (c, sourceIp) => passwordLogin(ctx, { email: c.email, password: c.password, sourceIp }),
  };
}

/** passport with a local strategy (JSON {email, password}) and sessions holding the user id. */
export function configurePassport(store: Store, provider: SignInProvider): passport.PassportStatic {
  const p = new passport.Passport();
  p.use(
    'local',
    new LocalStrategy({ usernameField: 'email', passwordField: 'password', passReqToCallback: true }, (req, email, password, done) => {
      provider.signIn({ email, password }, req.ip ?? null).then((user) => done(null, user), (e: unknown) => done(e));
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
