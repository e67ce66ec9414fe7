import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { MailcaError } from '../../errors.ts';
import type { HttpCapabilities } from '../capabilities.ts';
import { statusOf, sendError } from '../errors.ts';
import type { PendingSignIn, RedirectSignInProvider } from '../sign-in/provider.ts';

declare module 'express-session' {
  interface SessionData {
    /** A sign-in started with a redirect provider: what it needs when the browser comes back. */
    pendingSignIn?: { provider: string; data: PendingSignIn };
  }
}

/** How long a browser may take at the provider before the started sign-in is forgotten. */
const PENDING_SIGN_IN_MS = 10 * 60_000;

export interface SignInRoutesOptions {
  /** Whether POST /login takes an address and password (a password provider is configured). */
  password: boolean;
  redirect: readonly RedirectSignInProvider[];
  /** The built portal: a failed sign-in in a browser shows its sign-in page with the reason. */
  webDir: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A failed redirect sign-in. A browser (which navigated here) gets the portal with the status and
 * the reason in a <meta name="mailca-sign-in-error"> the sign-in page shows; other clients get JSON.
 */
async function sendSignInFailure(req: Request, res: Response, next: NextFunction, err: unknown, webDir: string): Promise<void> {
  if (!(err instanceof MailcaError) || statusOf(err) === 500) return next(err);
  const status = statusOf(err);
  if (req.accepts(['json', 'html']) !== 'html') return sendError(res, status, err.code, err.message);
  const meta = `<meta name="mailca-sign-in-error" content="${escapeHtml(err.message)}" data-code="${escapeHtml(err.code)}">`;
  let page: string;
  try {
    page = (await readFile(path.join(webDir, 'index.html'), 'utf8')).replace('</head>', `${meta}\n</head>`);
  } catch {
    page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title>${meta}</head><body><h1>Sign-in failed</h1><p>${escapeHtml(err.message)}</p><p><a href="/">Back to the portal</a></p></body></html>`;
  }
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(page);
}

/**
 * GET /sign-in: the ways to sign in, for the portal's sign-in page. For each redirect provider,
 * GET /sign-in/<name> sends the browser to it and GET /sign-in/<name>/callback takes it back.
 */
export function signInRoutes({ enrolment }: Pick<HttpCapabilities, 'enrolment'>, opts: SignInRoutesOptions): Router {
  const r = Router();
  r.get('/sign-in', (_req, res) => {
    res.json({ password: opts.password, providers: opts.redirect.map((p) => ({ name: p.name, label: p.label, start: `/api/v1/sign-in/${p.name}` })) });
  });

  for (const provider of opts.redirect) {
    r.get(`/sign-in/${provider.name}`, (req, res, next) => {
      // Started from another site (a link that would sign this browser out and start a sign-in): the portal instead.
      if (req.get('sec-fetch-site') === 'cross-site') return res.redirect(303, '/');
      provider.begin().then(
        ({ location, pending }) => {
          // A fresh session holds only the started sign-in. Its cookie is SameSite=Lax so that the
          // browser sends it when the provider (another site) sends it back; signing in replaces
          // this session with a new SameSite=Strict one (passport regenerates it).
          req.session.regenerate((err) => {
            if (err) return next(err);
            req.session.pendingSignIn = { provider: provider.name, data: pending };
            req.session.cookie.sameSite = 'lax';
            req.session.cookie.maxAge = PENDING_SIGN_IN_MS;
            req.session.save((e) => (e ? next(e) : res.redirect(303, location)));
          });
        },
        (e: unknown) => void sendSignInFailure(req, res, next, e, opts.webDir),
      );
    });

    r.get(`/sign-in/${provider.name}/callback`, (req, res, next) => {
      const pending = req.session.pendingSignIn?.provider === provider.name ? req.session.pendingSignIn.data : {};
      delete req.session.pendingSignIn; // an answer is used once
      const query = new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');
      const fail = (e: unknown) => {
        // A session that held only the started sign-in ends with it.
        if (req.session && !req.user) req.session.destroy(() => void sendSignInFailure(req, res, next, e, opts.webDir));
        else void sendSignInFailure(req, res, next, e, opts.webDir);
      };
      provider
        .complete(query, pending)
        .then(
          (identity) => ({ identity }),
          (e: unknown) => {
            if (!(e instanceof MailcaError)) throw e;
            return { error: e };
          },
        )
        .then((verified) => enrolment.redirectSignIn(provider.name, verified, req.ip ?? null))
        .then(
          (user) => req.logIn(user, (e) => (e ? next(e) : res.redirect(303, '/'))),
          fail,
        );
    });
  }
  return r;
}
