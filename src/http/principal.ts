import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Forbidden, Unauthenticated } from '../errors.ts';
import type { Actor } from '../enrolment/context.ts';
import type { EnrolmentService } from '../enrolment/service.ts';
import type { ApiToken, TokenRole, User } from '../store/index.ts';

type StoreUser = User;

/** Who is calling: a signed-in person (session) or a machine (bearer token). */
export type Principal = { kind: 'user'; user: User } | { kind: 'token'; token: ApiToken };

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // passport's req.user is mailca's user.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends StoreUser {}
    interface Request {
      principal?: Principal;
    }
  }
}

export function actorOf(req: Request): Actor {
  const p = req.principal;
  const id = !p ? 'anonymous' : p.kind === 'user' ? `user:${p.user.email}` : `token:${p.token.name}`;
  return { id, sourceIp: req.ip ?? null };
}

/** Reads a bearer token if one is sent (an invalid one is a 401, never a fallback), else the session user. */
export function identify(authenticateToken: EnrolmentService['authenticateToken']): RequestHandler {
  return (req, _res, next) => {
    const header = req.get('authorization');
    if (header) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m?.[1]) return next(new Unauthenticated('invalid_token', 'Authorization must be "Bearer <token>"'));
      authenticateToken(m[1]).then(
        (token) => {
          if (!token) return next(new Unauthenticated('invalid_token', 'the bearer token is unknown or revoked'));
          req.principal = { kind: 'token', token };
          next();
        },
        next,
      );
      return;
    }
    if (req.user) req.principal = { kind: 'user', user: req.user };
    next();
  };
}

function hasRole(p: Principal, role: TokenRole): boolean {
  if (p.kind === 'user') return role === 'admin' && p.user.isAdmin;
  return p.token.role === role;
}

/** A signed-in person. */
export function requireUser(req: Request, _res: Response, next: NextFunction): void {
  const p = req.principal;
  if (!p) return next(new Unauthenticated('unauthenticated', 'sign in first'));
  if (p.kind !== 'user') return next(new Forbidden('user_required', 'this endpoint is for signed-in users, not tokens'));
  next();
}

/** Any of the roles; admin (token or admin user) may do everything. */
export function requireRole(...roles: TokenRole[]): RequestHandler {
  return (req, _res, next) => {
    const p = req.principal;
    if (!p) return next(new Unauthenticated('unauthenticated', 'a bearer token or a session is required'));
    if (hasRole(p, 'admin') || roles.some((r) => hasRole(p, r))) return next();
    next(new Forbidden('forbidden', `requires role ${roles.join(' or ')}`));
  };
}

export function sessionUser(req: Request): User {
  const p = req.principal;
  if (p?.kind !== 'user') throw new Unauthenticated('unauthenticated', 'sign in first');
  return p.user;
}
