/**
 * One error type per failure kind. Domain code throws these; only the HTTP edge (http/errors.ts)
 * and the CLI map them to status codes or exit messages.
 */
export abstract class MailcaError extends Error {
  /** Machine-readable code, e.g. "csr_signature_invalid". */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The request is malformed or names a value we do not accept. */
export class BadRequest extends MailcaError {}
/** A certificate signing request failed a check (parse, signature, key type, size). */
export class InvalidCsr extends MailcaError {}
/** No credentials, or credentials that do not check out. */
export class Unauthenticated extends MailcaError {}
/** Authenticated, but not allowed to do this. */
export class Forbidden extends MailcaError {}
export class NotFound extends MailcaError {}
/** The request conflicts with current state (already revoked, already exists, …). */
export class Conflict extends MailcaError {}
/** Too many attempts; try again later. */
export class RateLimited extends MailcaError {
  readonly retryAfterSeconds: number;
  constructor(code: string, message: string, retryAfterSeconds: number) {
    super(code, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
/** Configuration is missing or invalid; reported at start-up. */
export class ConfigError extends MailcaError {}
/** The database cannot be reached or opened (reported at start-up, with a hint). */
export class DatabaseUnavailable extends MailcaError {}
/** The HTTP server could not listen on its address. */
export class ListenFailed extends MailcaError {}
/** A service mailca depends on (e.g. the LDAP directory) cannot be reached or refused to work; try again later. */
export class ServiceUnavailable extends MailcaError {}
