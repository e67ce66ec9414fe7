import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { decideEnforcement, nextEnforcementChange } from '../../src/enrolment/enforcement-policy.ts';
import type { UserEnforcementFacts } from '../../src/store/index.ts';

const now = new Date('2027-03-01T00:00:00Z');
const facts = (f: Partial<UserEnforcementFacts> = {}): UserEnforcementFacts => ({
  userId: 1,
  email: 'a@example.test',
  override: null,
  enforceAt: null,
  firstEnrolmentAt: null,
  activeCertificates: 0,
  ...f,
});
const none = { afterFirstEnrolmentDays: null, deadline: null };

describe('decideEnforcement', () => {
  it('is grace with no override and no schedule', () => {
    expect(decideEnforcement(facts(), none, now)).toMatchObject({ state: 'grace', basis: 'none', enforcedFrom: null });
  });

  it('follows an admin override, even against a passed deadline', () => {
    const deadline = { afterFirstEnrolmentDays: null, deadline: new Date(now.getTime() - DAY_MS) };
    expect(decideEnforcement(facts({ override: 'enforced' }), none, now).state).toBe('enforced');
    expect(decideEnforcement(facts({ override: 'grace' }), deadline, now).state).toBe('grace');
    expect(decideEnforcement(facts(), deadline, now)).toMatchObject({ state: 'enforced', basis: 'deadline' });
  });

  it('enforces N days after the first enrolment, taking the earliest schedule', () => {
    const first = new Date(now.getTime() - 10 * DAY_MS);
    const policy = { afterFirstEnrolmentDays: 14, deadline: new Date(now.getTime() + 30 * DAY_MS) };
    const d = decideEnforcement(facts({ firstEnrolmentAt: first, activeCertificates: 1 }), policy, now);
    expect(d).toMatchObject({ state: 'grace', basis: 'after_first_enrolment', enrolled: true });
    expect(d.enforcedFrom).toEqual(new Date(first.getTime() + 14 * DAY_MS));
    expect(decideEnforcement(facts({ firstEnrolmentAt: first }), policy, new Date(first.getTime() + 14 * DAY_MS)).state).toBe('enforced');
    // A user's own date earlier than both wins.
    const own = new Date(now.getTime() + DAY_MS);
    expect(decideEnforcement(facts({ firstEnrolmentAt: first, enforceAt: own }), policy, now)).toMatchObject({ basis: 'user_schedule', enforcedFrom: own });
    // Never enrolled: only the deadline applies.
    expect(decideEnforcement(facts(), policy, now)).toMatchObject({ basis: 'deadline', state: 'grace' });
  });

  it('finds the next scheduled change', () => {
    const a = decideEnforcement(facts({ enforceAt: new Date(now.getTime() + 5 * DAY_MS) }), none, now);
    const b = decideEnforcement(facts({ enforceAt: new Date(now.getTime() + 2 * DAY_MS) }), none, now);
    const past = decideEnforcement(facts({ enforceAt: new Date(now.getTime() - DAY_MS) }), none, now);
    expect(nextEnforcementChange([a, b, past], now)).toEqual(new Date(now.getTime() + 2 * DAY_MS));
    expect(nextEnforcementChange([past], now)).toBeUndefined();
  });
});
