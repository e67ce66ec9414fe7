import { Router } from 'express';
import type passport from 'passport';
import { BadRequest, Forbidden } from '../../errors.ts';
import type { User } from '../../store/index.ts';
import { actorOf, requireUser, sessionUser } from '../principal.ts';
import { userView } from '../views.ts';
import type { HttpCapabilities } from '../capabilities.ts';

/** Sign-in and sign-out for people; the session cookie carries the rest. */
export function sessionRoutes({ enrolment }: Pick<HttpCapabilities, 'enrolment'>, auth: passport.PassportStatic, opts: { password: boolean } = { password: true }): Router {
  const r = Router();
  r.post('/login', (req, res, next) => {
    // MAILCA_SIGN_IN names no password provider (e.g. oidc alone): GET /sign-in says how to sign in.
    if (!opts.password) return next(new Forbidden('password_sign_in_off', 'this server takes no passwords; sign in through the provider GET /api/v1/sign-in names'));
    // Credentials only in the JSON body: a query string ends up in access logs.
    if ('password' in req.query || 'email' in req.query) {
      return next(new BadRequest('credentials_in_url', 'send the email and password in the JSON body, not in the URL'));
    }
    auth.authenticate('local', { session: true }, (err: unknown, user: User | false) => {
      if (err) return next(err);
      if (!user) return res.status(400).json({ error: 'missing_credentials', message: 'send JSON {"email": …, "password": …}' });
      req.logIn(user, (e) => (e ? next(e) : res.json({ user: userView(user) })));
    })(req, res, next);
  });
  r.post('/logout', (req, res, next) => {
    const user = req.user;
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy(() => {
        res.clearCookie('mailca.sid');
        if (user) void enrolment.signedOut({ id: `user:${user.email}`, sourceIp: req.ip ?? null }, user.email).catch(() => undefined);
        res.json({ signed_out: true });
      });
    });
  });
  r.get('/me', requireUser, (req, res) => {
    res.json({ user: userView(sessionUser(req)), actor: actorOf(req).id });
  });
  return r;
}
