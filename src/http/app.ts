import path from 'node:path';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { systemClock } from '../clock.ts';
import { Forbidden, BadRequest } from '../errors.ts';
import type { HttpCapabilities } from './capabilities.ts';
import { errorHandler, sendError } from './errors.ts';
import { LongPollLimit } from './long-poll.ts';
import { identify } from './principal.ts';
import { adminRoutes } from './routes/admin.ts';
import { allowlistRoutes } from './routes/allowlist.ts';
import { enforcementRoutes } from './routes/enforcement.ts';
import { estRoutes } from './routes/est.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { meRoutes } from './routes/me.ts';
import { overviewRoutes } from './routes/overview.ts';
import { publicRoutes } from './routes/public.ts';
import { sessionRoutes } from './routes/session.ts';
import { DatabaseSessionStore } from './session-store.ts';
import { configurePassport, passwordSignIn } from './sign-in/password.ts';
import { signInRoutes } from './routes/sign-in.ts';
import type { SignInProvider } from './sign-in/provider.ts';
import { passwordCheckFor, passwordProviders, redirectProviders } from './sign-in/registry.ts';

export interface HttpOptions {
  /** Origin of MAILCA_PUBLIC_URL; state-changing requests from any other origin are refused. */
  publicUrl?: string;
  sessionSecret: string;
  sessionIdleMs: number;
  trustProxy: boolean | number | string;
  /** The mail server users configure, shown by the portal. */
  submission?: { smtpHost?: string; smtpTlsPort: number; smtpStarttlsPort: number; smtpAuth?: 'none' | 'external' };
  /** Where users enrol; named in refusal messages. */
  portalUrl: string;
  /** Built portal (web/dist), served at / when present. */
  webDir: string;
  /** Cap on requests held by allow-list long polls (MAILCA_MAX_LONG_POLLS). */
  maxLongPolls: number;
  /** Sign-in providers in MAILCA_SIGN_IN order (src/http/sign-in/registry.ts); default local accounts only. */
  signInProviders?: readonly SignInProvider[];
}

export const SESSION_COOKIE = 'mailca.sid';
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Cross-site request defence for cookie sessions (with SameSite=Strict): state changes accept JSON
 * only (an HTML form cannot send it without CORS), and a browser's Origin must be ours.
 */
function jsonOnlySameOrigin(publicUrl: string | undefined): RequestHandler {
  const configured = publicUrl ? new URL(publicUrl).origin : undefined;
  return (req, _res, next) => {
    if (!STATE_CHANGING.has(req.method)) return next();
    const origin = req.get('origin');
    if (origin) {
      const own = configured ?? `${req.protocol}://${req.get('host') ?? ''}`;
      if (origin !== own) return next(new Forbidden('bad_origin', `requests from origin ${origin} are not accepted`));
    }
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is('application/json')) {
      return next(new BadRequest('json_required', 'send the request body as application/json'));
    }
    next();
  };
}

/** The HTTP tier, on the capabilities main.ts hands it (src/http/capabilities.ts). */
/** What MTAs and monitoring poll, often, with a bearer token (never a session). */
const PULL_PATHS = new Set(['/allowlist', '/enforcement', '/senders', '/metrics']);

/**
 * A bearer token is never combined with the session (`identify` takes the token or refuses), so the
 * session and passport middleware have nothing to do on the pull endpoints' token requests: they are
 * skipped there, which makes a conditional re-check cheaper.
 */
function unlessBearerPull(middleware: RequestHandler): RequestHandler {
  return (req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && PULL_PATHS.has(req.path) && /^Bearer\s/i.test(req.get('authorization') ?? '')) return next();
    middleware(req, res, next);
  };
}

export function createApp(caps: HttpCapabilities, opts: HttpOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
    }),
  );

  app.use(publicRoutes(caps));

  const passwords = opts.signInProviders ? passwordProviders(opts.signInProviders) : undefined;
  const takesPasswords = passwords === undefined || passwords.length > 0;
  // One password path for the portal's sign-in and EST's basic authentication: the same
  // providers, the same attempt counting and limits, the same audit events.
  const signIn = passwordSignIn(caps.enrolment, passwords ? passwordCheckFor(caps, passwords) : undefined);
  app.use('/.well-known/est', estRoutes(caps, { signIn }));

  const auth = configurePassport(caps.reads.users, signIn);
  const api = express.Router();
  api.use(jsonOnlySameOrigin(opts.publicUrl));
  api.use(express.json({ limit: '64kb', strict: true }));
  api.use(
    unlessBearerPull(session({
      name: SESSION_COOKIE,
      secret: opts.sessionSecret,
      // express-session stamps cookie expiry with wall-clock time; the store must judge it by the same clock.
      store: new DatabaseSessionStore(caps.sessions, systemClock, opts.sessionIdleMs),
      resave: false,
      saveUninitialized: false,
      rolling: true, // the idle timeout restarts with each request
      proxy: opts.trustProxy !== false,
      // Secure whenever the request came over HTTPS (directly, or via a trusted proxy).
      cookie: { httpOnly: true, sameSite: 'strict', secure: 'auto', maxAge: opts.sessionIdleMs, path: '/' },
    })),
  );
  api.use(unlessBearerPull(auth.initialize()));
  api.use(unlessBearerPull(auth.session()));
  api.use(identify(caps.enrolment.authenticateToken));
  api.use(signInRoutes(caps, { password: takesPasswords, redirect: redirectProviders(opts.signInProviders ?? []), webDir: opts.webDir }));
  api.use(sessionRoutes(caps, auth, { password: takesPasswords }));
  api.use(meRoutes(caps));
  api.use(adminRoutes(caps));
  api.use(allowlistRoutes({ publisher: caps.published, longPolls: new LongPollLimit(opts.maxLongPolls) }));
  api.use(enforcementRoutes(caps));
  api.use(metricsRoutes(caps));
  api.use(overviewRoutes(caps, { publicUrl: opts.publicUrl, sessionIdleMs: opts.sessionIdleMs, ...opts.submission }));
  api.use((req, res) => sendError(res, 404, 'not_found', `no such endpoint: ${req.method} ${req.path}`));
  app.use('/api/v1', api);

  // Mounted whether or not the portal is built yet: a build that finishes after start is served
  // (a missing file falls through to the JSON 404). Hashed assets never change; index.html must be
  // re-fetched so it never points at old assets.
  const webDir = path.resolve(opts.webDir);
  app.use(
    express.static(webDir, {
      index: 'index.html',
      setHeaders: (res, file) => {
        res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  app.use((req, res) => sendError(res, 404, 'not_found', `not found: ${req.path}`));
  app.use(errorHandler(caps.log));
  return app;
}
