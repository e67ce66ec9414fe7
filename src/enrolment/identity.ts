import { BadRequest } from '../errors.ts';

export const MAX_EMAIL_LENGTH = 64;

// Deliberately plain: printable ASCII (rfc822Name is an IA5String), one '@', a dotted domain.
const EMAIL_RE = /^[!#-'*+\-/-9=?A-Z^-~.]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/u;

/** The canonical form of a user's address: what goes in the certificate and the lists. */
export function normalizeEmail(input: unknown): string {
  if (typeof input !== 'string') throw new BadRequest('invalid_email', 'email must be a string');
  const email = input.trim().toLowerCase();
  // A leading '#' would make the address a comment in the Postfix and Exim tables.
  if (!EMAIL_RE.test(email) || email.startsWith('#')) throw new BadRequest('invalid_email', `"${input.slice(0, 100)}" is not a valid email address`);
  // The address is also the certificate's CN, which RFC 5280 caps at 64 characters.
  if (email.length > MAX_EMAIL_LENGTH) throw new BadRequest('invalid_email', `addresses longer than ${MAX_EMAIL_LENGTH} characters cannot be certified`);
  return email;
}

export function normalizeDeviceLabel(input: unknown): string | null {
  if (input === undefined || input === null || input === '') return null;
  if (typeof input !== 'string') throw new BadRequest('invalid_device_label', 'device_label must be a string');
  const label = input.trim();
  if (label.length > 100 || /\p{Cc}/u.test(label)) {
    throw new BadRequest('invalid_device_label', 'device_label must be at most 100 printable characters');
  }
  return label || null;
}
