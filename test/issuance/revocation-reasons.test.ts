import { describe, expect, it } from 'vitest';
import { ACCEPTED_REVOCATION_REASONS, REVOCATION_REASONS, isAcceptedRevocationReason, isRevocationReason } from '../../src/issuance/index.ts';

describe('revocation reasons', () => {
  it('maps RFC 5280 names to codes', () => {
    expect(REVOCATION_REASONS).toEqual({
      unspecified: 0,
      keyCompromise: 1,
      cACompromise: 2,
      affiliationChanged: 3,
      superseded: 4,
      cessationOfOperation: 5,
      certificateHold: 6,
      removeFromCRL: 8,
      privilegeWithdrawn: 9,
      aACompromise: 10,
    });
  });

  it('recognises names only (not prototype keys or codes)', () => {
    expect(isRevocationReason('keyCompromise')).toBe(true);
    expect(isRevocationReason('toString')).toBe(false);
    expect(isRevocationReason('1')).toBe(false);
    expect(isRevocationReason('KeyCompromise')).toBe(false);
  });

  it('accepts everything except certificateHold and removeFromCRL for revocation', () => {
    expect([...ACCEPTED_REVOCATION_REASONS].sort()).toEqual(
      Object.keys(REVOCATION_REASONS).filter((r) => r !== 'certificateHold' && r !== 'removeFromCRL').sort(),
    );
    expect(isAcceptedRevocationReason('certificateHold')).toBe(false);
    expect(isAcceptedRevocationReason('superseded')).toBe(true);
  });
});
