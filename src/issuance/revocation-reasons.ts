/** RFC 5280 CRLReason codes (5.3.1); 7 is unused. */
export const REVOCATION_REASONS = {
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
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** Reasons a revocation request may carry: holds are not supported, removeFromCRL is for delta CRLs only. */
export const ACCEPTED_REVOCATION_REASONS: readonly RevocationReason[] = Object.freeze([
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
  'aACompromise',
]);

export function isRevocationReason(s: string): s is RevocationReason {
  return Object.prototype.hasOwnProperty.call(REVOCATION_REASONS, s);
}

export function isAcceptedRevocationReason(s: string): s is RevocationReason {
  return isRevocationReason(s) && ACCEPTED_REVOCATION_REASONS.includes(s);
}
