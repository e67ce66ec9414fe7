import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import {
  BadRequest,
  Conflict,
  Forbidden,
  InvalidCsr,
  MailcaError,
  NotFound,
  RateLimited,
  ServiceUnavailable,
  Unauthenticated,
} from '../errors.ts';

export function sendError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
}

function statusOf(e: MailcaError): number {
  if (e instanceof InvalidCsr) return e.code === 'csr_too_large' ? 413 : 400;
  if (e instanceof BadRequest) return 400;
  if (e instanceof Unauthenticated) return 401;
  if (e instanceof Forbidden) return 403;
  if (e instanceof NotFound) return 404;
  if (e instanceof Conflict) return 409;
  if (e instanceof RateLimited) return 429;
  if (e instanceof ServiceUnavailable) return 503;
  return 500;
}

interface BodyParserError {
  type: string;
  status: number;
}
const isBodyParserError = (e: unknown): e is BodyParserError =>
  typeof e === 'object' && e !== null && typeof (e as BodyParserError).type === 'string' && typeof (e as BodyParserError).status === 'number';

/** The one place where failures become HTTP responses; a 500 shows no internals. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof MailcaError) {
      const status = statusOf(err);
      if (status < 500 || status === 503) {
        if (err instanceof RateLimited) res.setHeader('Retry-After', String(err.retryAfterSeconds));
        return sendError(res, status, err.code, err.message);
      }
    }
    // The router could not percent-decode a path parameter (e.g. /users/%E0%A4%A/…).
    if (err instanceof URIError && (err as URIError & { status?: number }).status === 400) return sendError(res, 400, 'bad_path_encoding', 'the request path is not valid percent-encoding');
    if (isBodyParserError(err)) {
      if (err.type === 'entity.too.large') return sendError(res, 413, 'body_too_large', 'the request body is larger than 64 KiB');
      if (err.type === 'entity.parse.failed') return sendError(res, 400, 'invalid_json', 'the request body is not valid JSON');
      if (err.status >= 400 && err.status < 500) return sendError(res, err.status, 'bad_request', 'the request body could not be read');
    }
    log.error({ err, method: req.method, path: req.path }, 'request failed'); // no query string: it may hold secrets
    sendError(res, 500, 'internal_error', 'internal error; see the server log');
  };
}
