import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatFingerprintColons } from '../../src/issuance/encoding.ts';
import { CONSUMER_FORMATS } from '../../src/publishers/formats/index.ts';

describe('consumer formats', () => {
  it('formats fingerprints with colons exactly as the plain definition does, and refuses non-hex', () => {
    const reference = (hex: string) => (hex.toUpperCase().match(/../g) ?? []).join(':');
    for (let i = 0; i < 2_000; i++) {
      const hex = randomBytes(1 + (i % 70)).toString('hex');
      const input = i % 3 === 0 ? hex.toUpperCase() : hex;
      expect(formatFingerprintColons(input)).toBe(reference(input));
    }
    for (const bad of ['', 'a', 'zz', 'ab:cd', 'abc', `${'ab'.repeat(31)}g0`]) expect(() => formatFingerprintColons(bad), bad).toThrow();
  });

  it('writes each JSON entry as JSON.stringify writes the same record, escapes included', () => {
    const odd = ['plain@example.test', 'a"b@example.test', 'back\\slash@example.test', 'new\nline@example.test', 'tab\t@example.test', 'é@example.test', '\u2028@example.test'];
    for (let i = 0; i < 500; i++) {
      const fp = randomBytes(32).toString('hex');
      const spki = randomBytes(32).toString('hex');
      const owner = odd[i % odd.length]!;
      const senders = [owner, ...odd.slice(0, i % 4)];
      const e = { serial: randomBytes(16).toString('hex'), fingerprintSha256: fp, spkiSha256: spki, owner, subject: `CN=${owner}`, notAfter: new Date(1_700_000_000_000 + i * 86_400_000), senders, migration: i % 2 ? ('grace' as const) : ('enforced' as const) };
      const reference = JSON.stringify({
        serial: e.serial,
        fingerprint_sha256: formatFingerprintColons(fp),
        fingerprint_sha256_hex: fp,
        pubkey_sha256: formatFingerprintColons(spki),
        pubkey_sha256_hex: spki,
        address: owner,
        owner,
        senders,
        subject: e.subject,
        not_after: e.notAfter.toISOString(),
        status: 'active',
        migration: e.migration,
      });
      expect(CONSUMER_FORMATS.json.renderEntry(e)).toBe(reference);
    }
  });

  it('writes the Dovecot passwd-file keyed by the serial, the owner as the login, % doubled (Dovecot expands it)', () => {
    const e = { serial: '0123456789abcdef0123456789abcdef', fingerprintSha256: 'ab'.repeat(32), spkiSha256: 'cd'.repeat(32), owner: 'a%b@example.test', subject: 'CN=a%b@example.test', notAfter: new Date(0), senders: ['a%b@example.test'], migration: 'grace' as const };
    expect(CONSUMER_FORMATS.dovecot.renderEntry(e)).toBe('0123456789abcdef0123456789abcdef:::::::nopassword=yes user=a%%b@example.test\n');
  });
});
