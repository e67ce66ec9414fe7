import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { PasswordCheck } from '../../enrolment/login.ts';
import type { EnrolmentService } from '../../enrolment/service.ts';
import type { User } from '../../store/index.ts';
import type { StoreReads } from '../../store/views.ts';

/**
 * Sign-in with an address and password (POST /login, the portal form): attempts are counted and
 * audited once (src/enrolment/login.ts), and `check` tries the configured password providers in order.
 */
export interface PasswordSignIn {
  signIn(c: { email: unknown; password: unknown }, sourceIp: string | null): Promise<User>;
}

/** Without `check`, local accounts only. */
export function passwordSignIn(enrolment: Pick<EnrolmentService, 'passwordLogin'>, check?: PasswordCheck): PasswordSignIn {
  return {
    signIn: (c: { email: unknown; password: unknown }, sourceIp: string | null): Promise<User> => enrolment.passwordLogin({ email: c.email, password: c.password, sourceIp }, check),
  };
}

/** passport with a local strategy (JSON {email, password}) and sessions holding the user id. */
export function configurePassport(users: Pick<StoreReads['users'], 'findById'>, signIn: PasswordSignIn): passport.PassportStatic {
  const p = new passport.Passport();
  p.use(
    'local',
    new LocalStrategy({ usernameField: 'email', passwordField: 'password', passReqToCallback: true }, (req, email, password, done) => {
      signIn.signIn({ email, password }, req.ip ?? null).then((user) => done(null, user), (e: unknown) => done(e));
    }),
  );
  p.serializeUser((user, done) => done(null, (user as User).id));
  p.deserializeUser((id: number, done) => {
    users.findById(id).then(
      // A disabled user's session ends with the next request.
      (user) => done(null, user && !user.disabledAt ? user : false),
      (e: unknown) => done(e),
    );
  });
  return p as unknown as passport.PassportStatic;
}
