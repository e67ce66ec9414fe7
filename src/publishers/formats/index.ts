import { dovecotFormat } from './dovecot.ts';
import { eximFormat } from './exim.ts';
import { jsonFormat } from './json.ts';
import { postfixFormat } from './postfix.ts';
import type { AllowlistEntry, ConsumerFormat, ListContext } from './types.ts';

export type * from './types.ts';
export { enrolMessage } from './types.ts';
export { DOVECOT_FILES } from './dovecot.ts';
export { EXIM_FILES } from './exim.ts';
export { POSTFIX_FILES } from './postfix.ts';

/** Every consumer format, by name: a new format is one module and one line here. */
export const CONSUMER_FORMATS = {
  postfix: postfixFormat,
  exim: eximFormat,
  json: jsonFormat,
  dovecot: dovecotFormat,
} as const satisfies Record<string, ConsumerFormat>;

export type AllowlistFormat = keyof typeof CONSUMER_FORMATS;
export const ALLOWLIST_FORMATS = Object.keys(CONSUMER_FORMATS) as AllowlistFormat[];

/** Formats that publish an enforcement map. */
export const ENFORCEMENT_FORMATS = ALLOWLIST_FORMATS.filter((f) => CONSUMER_FORMATS[f].enforcement !== undefined);
/** Formats that publish a sender-login map. */
export const SENDER_LOGIN_FORMATS = ALLOWLIST_FORMATS.filter((f) => CONSUMER_FORMATS[f].senderLogins !== undefined);

export function isAllowlistFormat(v: string): v is AllowlistFormat {
  return Object.hasOwn(CONSUMER_FORMATS, v);
}

/** A whole list in one string (tests, the benchmark and small lists); the publisher renders incrementally. */
export function renderAllowlist(format: AllowlistFormat, entries: readonly AllowlistEntry[], ctx: ListContext): string {
  const f = CONSUMER_FORMATS[format];
  return f.header() + entries.map((e) => f.renderEntry(e)).join(f.separator) + f.footer(ctx);
}
