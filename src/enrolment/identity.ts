import { BadRequest } from '../errors.ts';

export const MAX_EMAIL_LENGTH = 64;

// Deliberately plain: printable ASCII (rfc822Name is an IA5String), one '@', a dotted domain.
const EMAIL_RE = /^[!#-'*+\-/-9=?A-Z^-~.]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/u;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The canonical form of a user's address: what goes in the certificate and the lists. An address
 * is refused rather than rewritten when Unicode normalisation (NFKC) or case folding would turn
 * it into a different one (the Kelvin sign U+212A folds to "k"), so two spellings never name the
 * same mailbox; and a dot-atom local part may not have an empty atom ("a..b", ".a", "a.").
 */
export function normalizeEmail(input: unknown): string {
  if (typeof input !== 'string') throw new BadRequest('invalid_email', 'email must be a string');
  const shown = input.slice(0, 100);
  const trimmed = input.trim();
  if (!PRINTABLE_ASCII.test(trimmed)) {
    const odd = [...trimmed].find((c) => !PRINTABLE_ASCII.test(c)) ?? '';
    const folded = odd.normalize('NFKC').toLowerCase();
    const change = folded !== odd && PRINTABLE_ASCII.test(folded) ? ` (it would fold to "${folded}" under Unicode normalisation)` : '';
    throw new BadRequest('invalid_email', `"${shown}" is not a valid email address: ${codePoint(odd)} is not printable ASCII${change}`);
  }
  const email = trimmed.toLowerCase();
  // A leading '#' would make the address a comment in the Postfix and Exim tables.
  if (!EMAIL_RE.test(email) || email.startsWith('#')) throw new BadRequest('invalid_email', `"${shown}" is not a valid email address`);
  const local = email.slice(0, email.lastIndexOf('@'));
  if (local.split('.').some((atom) => atom === '')) {
    throw new BadRequest('invalid_email', `"${shown}" is not a valid email address: the part before "@" has an empty dot-atom (a leading, trailing or doubled ".")`);
  }
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
