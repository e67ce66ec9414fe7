import { describe, expect, it } from 'vitest';
import { normalizeAlias } from '../../src/enrolment/aliases.ts';
import { normalizeEmail } from '../../src/enrolment/identity.ts';
import { BadRequest } from '../../src/errors.ts';

function refusal(fn: () => string): BadRequest {
  try {
    fn();
  } catch (e) {
    if (e instanceof BadRequest) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('normalizeEmail', () => {
  it('lower-cases and trims plain ASCII addresses', () => {
    expect(normalizeEmail('  Alice.Smith@Example.ORG ')).toBe('alice.smith@example.org');
    expect(normalizeEmail("o'brien+tag@x.example")).toBe("o'brien+tag@x.example");
  });

  it.each([
    ['the Kelvin sign (folds to k)', '\u212Aelvin@example.org', 'fold to "k"'],
    ['a fullwidth letter (NFKC: a)', '\uFF41lice@example.org', 'fold to "a"'],
    ['a ligature (NFKC: fi)', '\uFB01le@example.org', 'fold to "fi"'],
    ['dotless i (upper-cases to I)', '\u0131nfo@example.org', 'U+0131'],
    ['a Kelvin sign in the domain', 'kelvin@\u212A.example', 'fold to "k"'],
    ['a combining accent', 'e\u0301@example.org', 'U+0301'],
    ['a zero-width space', 'al\u200Bice@example.org', 'U+200B'],
    ['a control character', 'al\u0007ice@example.org', 'U+0007'],
  ])('refuses an address that changes under normalisation: %s', (_name, address, says) => {
    const e = refusal(() => normalizeEmail(address));
    expect(e.code).toBe('invalid_email');
    expect(e.message).toContain(says);
  });

  it.each(['a..b@example.org', '.a@example.org', 'a.@example.org', '.@example.org', 'a...b@example.org'])('refuses an empty dot-atom: %s', (address) => {
    const e = refusal(() => normalizeEmail(address));
    expect(e.code).toBe('invalid_email');
    expect(e.message).toContain('empty dot-atom');
  });

  it('refuses the same for aliases, as invalid_alias', () => {
    expect(refusal(() => normalizeAlias('\u212Aelvin@example.org')).code).toBe('invalid_alias');
    expect(refusal(() => normalizeAlias('a..b@example.org')).code).toBe('invalid_alias');
    expect(normalizeAlias('Kelvin@Example.org')).toBe('kelvin@example.org');
  });

  it('refuses non-strings and keeps the message short for huge input', () => {
    expect(refusal(() => normalizeEmail(42)).code).toBe('invalid_email');
    expect(refusal(() => normalizeEmail(null)).code).toBe('invalid_email');
    expect(refusal(() => normalizeEmail('x'.repeat(100_000))).message.length).toBeLessThan(200);
  });
});
