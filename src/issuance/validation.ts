/** Dates as they will be encoded: whole seconds, in the range RFC 5280 Time can represent. */
export function toCertificateTime(date: Date, what: string): Date {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new Error(`${what} is not a valid date`);
  const truncated = new Date(Math.floor(ms / 1000) * 1000);
  const year = truncated.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`${what} (${truncated.toISOString()}) is outside 1950–9999`);
  return truncated;
}

export function assertBefore(earlier: Date, later: Date, earlierName: string, laterName: string): void {
  if (earlier.getTime() >= later.getTime()) {
    throw new Error(`${earlierName} (${earlier.toISOString()}) must be before ${laterName} (${later.toISOString()})`);
  }
}

// ub-common-name and ub-organization-name (RFC 5280 appendix A).
const MAX_COMMON_NAME_LENGTH = 64;

export function assertDirectoryString(value: string, what: string): void {
  if (value.trim().length === 0) throw new Error(`${what} is empty`);
  if (value.length > MAX_COMMON_NAME_LENGTH) throw new Error(`${what} is longer than ${MAX_COMMON_NAME_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`${what} contains control characters`);
}

/**
 * Structural check only (policy, e.g. allowed domains, lives elsewhere): printable ASCII because rfc822Name is
 * an IA5String, exactly one '@' with non-empty local part and domain, and short enough for the CN.
 */
export function assertMailbox(email: string): void {
  if (email.length === 0) throw new Error('Email address is empty');
  if (!/^[\x21-\x7e]+$/.test(email)) {
    throw new Error(`Email address ${JSON.stringify(email)} contains whitespace, control or non-ASCII characters`);
  }
  const parts = email.split('@');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new Error(`Email address ${JSON.stringify(email)} must contain exactly one '@' between a local part and a domain`);
  }
  if (email.length > MAX_COMMON_NAME_LENGTH) {
    throw new Error(`Email address is ${email.length} characters; the subject CN allows at most ${MAX_COMMON_NAME_LENGTH}`);
  }
}

export function assertUri(uri: string, what: string): void {
  let valid = /^[\x21-\x7e]+$/.test(uri);
  if (valid) {
    try {
      new URL(uri);
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new Error(`${what} ${JSON.stringify(uri)} is not an absolute ASCII URI`);
}

/** RFC 4514 string form of an attribute value, for display ("CN=a\+b@example.test"). */
export function escapeDnValue(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}
