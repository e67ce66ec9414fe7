import { DAY_MS } from '../clock.ts';
import type { EnforcementPolicy, UserEnforcementFacts } from '../store/index.ts';

export type EnforcementState = 'grace' | 'enforced';

export interface UserEnforcement {
  email: string;
  state: EnforcementState;
  /** Why: an admin override, or the schedule that applies. */
  basis: 'override' | 'user_schedule' | 'after_first_enrolment' | 'deadline' | 'none';
  /** When a user still in grace becomes enforced by schedule; null if never. */
  enforcedFrom: Date | null;
  enrolled: boolean;
}

/**
 * Pure decision: an admin's override wins (grace exempts even past a deadline); otherwise the
 * earliest of the user's own date, N days after first enrolment, and the global deadline.
 */
export function decideEnforcement(f: UserEnforcementFacts, policy: EnforcementPolicy, now: Date): UserEnforcement {
  const enrolled = f.activeCertificates > 0;
  if (f.override) return { email: f.email, state: f.override, basis: 'override', enforcedFrom: null, enrolled };
  const candidates: { at: number; basis: UserEnforcement['basis'] }[] = [];
  if (f.enforceAt) candidates.push({ at: f.enforceAt.getTime(), basis: 'user_schedule' });
  if (policy.afterFirstEnrolmentDays !== null && f.firstEnrolmentAt) {
    candidates.push({ at: f.firstEnrolmentAt.getTime() + policy.afterFirstEnrolmentDays * DAY_MS, basis: 'after_first_enrolment' });
  }
  if (policy.deadline) candidates.push({ at: policy.deadline.getTime(), basis: 'deadline' });
  if (candidates.length === 0) return { email: f.email, state: 'grace', basis: 'none', enforcedFrom: null, enrolled };
  const first = candidates.reduce((a, b) => (b.at < a.at ? b : a));
  return {
    email: f.email,
    state: now.getTime() >= first.at ? 'enforced' : 'grace',
    basis: first.basis,
    enforcedFrom: new Date(first.at),
    enrolled,
  };
}

/** The next instant after `now` at which some user's state changes by schedule. */
export function nextEnforcementChange(decisions: readonly UserEnforcement[], now: Date): Date | undefined {
  let next: number | undefined;
  for (const d of decisions) {
    const at = d.enforcedFrom?.getTime();
    if (d.state === 'grace' && at !== undefined && at > now.getTime() && (next === undefined || at < next)) next = at;
  }
  return next === undefined ? undefined : new Date(next);
}
