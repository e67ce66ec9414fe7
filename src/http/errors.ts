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

/** How an error reaches the client: JSON `{error, message}` for the API; EST answers in plain text. */
export type ErrorSender = typeof sendError;

/** The HTTP status of a domain error; the one mapping of errors.ts to HTTP. */
export function statusOf(e: MailcaError): number {
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
  /** Absent on wrapped errors (zlib) and on other http-errors (express.static's 403, 416). */
  type?: string;
  status: number;
  /** body-parser sets these on 415s: the encoding or charset it does not know. */
  encoding?: string;
  charset?: string;
}
/**
 * An error body-parser raised (http-errors: a `status`, and a `type` or `expose` for client errors).
 * A zlib error from a body that does not decompress arrives wrapped, with status 400 but no type.
 */
const isBodyParserError = (e: unknown): e is BodyParserError => {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as BodyParserError & { expose?: unknown };
  return typeof x.status === 'number' && (typeof x.type === 'string' || (x.expose === true && x.status >= 400 && x.status < 500));
};
const isZlibError = (e: unknown): boolean => typeof e === 'object' && e !== null && /^Z_/.test(String((e as { code?: unknown }).code ?? ''));

/** The one place where failures become HTTP responses; a 500 shows no internals. */
export function errorHandler(log: Logger, send: ErrorSender = sendError): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof MailcaError) {
      const status = statusOf(err);
      if (status < 500 || status === 503) {
        if (err instanceof RateLimited) res.setHeader('Retry-After', String(err.retryAfterSeconds));
        return send(res, status, err.code, err.message);
      }
    }
    // The router could not percent-decode a path parameter (e.g. /users/%E0%A4%A/…).
    if (err instanceof URIError && (err as URIError & { status?: number }).status === 400) return send(res, 400, 'bad_path_encoding', 'the request path is not valid percent-encoding');
    if (isBodyParserError(err)) {
      if (err.type === 'entity.too.large') return send(res, 413, 'body_too_large', 'the request body is larger than 64 KiB');
      if (err.type === 'entity.parse.failed') return send(res, 400, 'invalid_json', 'the request body is not valid JSON');
      if (err.type === 'encoding.unsupported') {
        const named = typeof err.encoding === 'string' ? ` "${err.encoding.slice(0, 40)}"` : '';
        return send(res, 415, 'unsupported_content_encoding', `Content-Encoding${named} is not supported: send the body uncompressed, or as gzip, deflate or br`);
      }
      if (err.type === 'charset.unsupported') {
        const named = typeof err.charset === 'string' ? ` "${err.charset.slice(0, 40)}"` : '';
        return send(res, 415, 'unsupported_charset', `charset${named} is not supported: send application/json in UTF-8`);
      }
      if (isZlibError(err)) return send(res, 400, 'bad_content_encoding', 'the request body does not decompress as its Content-Encoding says');
      // A body cut short, or a Content-Length that does not match it.
      if (err.type === 'request.aborted' || err.type === 'request.size.invalid') return send(res, 400, 'bad_request', 'the request body was incomplete');
      if (err.status >= 400 && err.status < 500) return send(res, err.status, 'bad_request', err.type ? 'the request body could not be read' : 'the request could not be served as sent');
    }
    log.error({ err, method: req.method, path: req.path }, 'request failed'); // no query string: it may hold secrets
    send(res, 500, 'internal_error', 'internal error; see the server log');
  };
}
