import { BadRequest } from '../errors.ts';
import type { EnforcementOverride, EnforcementPolicy } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';
import { decideEnforcement, type UserEnforcement } from './enforcement-policy.ts';
import { findUser } from './users.ts';

export type EnforcementSetting = EnforcementOverride | 'default';
const SETTINGS: readonly EnforcementSetting[] = ['grace', 'enforced', 'default'];

function parseSetting(input: unknown): EnforcementSetting {
  if (typeof input !== 'string' || !SETTINGS.includes(input as EnforcementSetting)) {
    throw new BadRequest('invalid_state', `state must be one of: ${SETTINGS.join(', ')} (default = follow the schedule)`);
  }
  return input as EnforcementSetting;
}

function parseDate(input: unknown, name: string): Date | null {
  if (input === undefined || input === null || input === '') return null;
  const d = typeof input === 'string' ? new Date(input) : undefined;
  if (!d || Number.isNaN(d.getTime())) throw new BadRequest(`invalid_${name}`, `${name} must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z`);
  return d;
}

export async function listEnforcement(ctx: Pick<EnrolmentContext, 'store' | 'clock'>): Promise<UserEnforcement[]> {
  const now = ctx.clock.now();
  const [facts, policy] = await Promise.all([ctx.store.enforcement.facts(now), ctx.store.enforcement.policy()]);
  return facts.map((f) => decideEnforcement(f, policy, now));
}

/** One user's migration state (what the portal tells them to set up); undefined for a disabled or unknown user. */
export async function userEnforcement(ctx: Pick<EnrolmentContext, 'store' | 'clock'>, userId: number): Promise<UserEnforcement | undefined> {
  const now = ctx.clock.now();
  const [facts, policy] = await Promise.all([ctx.store.enforcement.facts(now, [userId]), ctx.store.enforcement.policy()]);
  const mine = facts[0];
  return mine ? decideEnforcement(mine, policy, now) : undefined;
}

/** Sets one user's enforcement: an override, or back to the schedule (optionally with their own date). */
export async function setUserEnforcement(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { email: unknown; state: unknown; enforceAt?: unknown },
): Promise<UserEnforcement> {
  const user = await findUser(ctx, req.email);
  const setting = parseSetting(req.state);
  const enforceAt = parseDate(req.enforceAt, 'enforce_at');
  if (enforceAt && setting !== 'default') throw new BadRequest('invalid_state', 'enforce_at goes with state "default" (follow a schedule)');
  await audited(ctx, actor, { action: 'enforcement.user', target: user.email, details: () => ({ state: setting, enforce_at: enforceAt?.toISOString() ?? null }) }, (tx) =>
    tx.enforcement.setForUser(user.id, setting === 'default' ? null : setting, enforceAt),
  );
  await ctx.publish();
  const mine = (await listEnforcement(ctx)).find((d) => d.email === user.email);
  if (!mine) throw new BadRequest('user_disabled', `${user.email} is disabled`);
  return mine;
}

export async function setEveryoneEnforcement(ctx: EnrolmentContext, actor: Actor, stateInput: unknown): Promise<number> {
  const setting = parseSetting(stateInput);
  const n = await audited<number>(ctx, actor, { action: 'enforcement.all', target: null, details: (count) => ({ state: setting, users: count }) }, (tx) =>
    tx.enforcement.setForAll(setting === 'default' ? null : setting),
  );
  await ctx.publish();
  return n;
}

/** Enforces every enabled user who holds an active certificate now and is still in grace; returns how many. */
export async function enforceEnrolled(ctx: EnrolmentContext, actor: Actor): Promise<number> {
  const n = await audited<number>(ctx, actor, { action: 'enforcement.enrolled', target: null, details: (count) => ({ state: 'enforced', users: count }) }, async (tx) => {
    const now = ctx.clock.now();
    const [facts, policy] = await Promise.all([tx.enforcement.facts(now), tx.enforcement.policy()]);
    const ids = facts.filter((f) => f.activeCertificates > 0 && decideEnforcement(f, policy, now).state === 'grace').map((f) => f.userId);
    return ids.length ? tx.enforcement.setForUsers(ids, 'enforced') : 0;
  });
  await ctx.publish();
  return n;
}

/** Users enrolled (first certificate) by the end of each of the last `days` days (UTC), oldest first. */
export async function enrolmentHistory(ctx: Pick<EnrolmentContext, 'store' | 'clock'>, daysInput: unknown): Promise<{ days: { date: string; enrolled: number }[]; usersTotal: number }> {
  const days = daysInput === undefined || daysInput === '' ? 90 : Number(daysInput);
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new BadRequest('invalid_days', 'days must be an integer from 1 to 3650');
  const now = ctx.clock.now();
  const facts = await ctx.store.enforcement.facts(now);
  const firsts = facts.map((f) => f.firstEnrolmentAt?.getTime()).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const dayMs = 86_400_000;
  const endOfToday = Math.floor(now.getTime() / dayMs) * dayMs + dayMs;
  const out: { date: string; enrolled: number }[] = [];
  let i = 0;
  for (let d = days - 1; d >= 0; d--) {
    const end = endOfToday - d * dayMs;
    while (i < firsts.length && firsts[i]! < end) i++;
    out.push({ date: new Date(end - dayMs).toISOString().slice(0, 10), enrolled: i });
  }
  return { days: out, usersTotal: facts.length };
}

export async function setEnforcementPolicy(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { afterFirstEnrolmentDays?: unknown; deadline?: unknown },
): Promise<EnforcementPolicy> {
  let days: number | null = null;
  if (req.afterFirstEnrolmentDays !== undefined && req.afterFirstEnrolmentDays !== null && req.afterFirstEnrolmentDays !== '') {
    const n = Number(req.afterFirstEnrolmentDays);
    if (!Number.isInteger(n) || n < 0 || n > 3650) throw new BadRequest('invalid_days', 'after_first_enrolment_days must be an integer from 0 to 3650');
    days = n;
  }
  const policy: EnforcementPolicy = { afterFirstEnrolmentDays: days, deadline: parseDate(req.deadline, 'deadline') };
  await audited(ctx, actor, { action: 'enforcement.policy', target: null, details: () => ({ after_first_enrolment_days: days, deadline: policy.deadline?.toISOString() ?? null }) }, (tx) =>
    tx.enforcement.setPolicy(policy),
  );
  await ctx.publish();
  return policy;
}

export interface Readiness {
  usersTotal: number;
  enrolled: number;
  enforced: number;
  grace: number;
  /** Enabled users without an active certificate. */
  notEnrolled: string[];
  /** Enforced users without an active certificate: they cannot submit mail now. */
  enforcedWithoutCertificate: string[];
  /** Enrolled users still in grace: the next ones to enforce. */
  readyToEnforce: string[];
}

export async function readiness(ctx: Pick<EnrolmentContext, 'store' | 'clock'>): Promise<Readiness> {
  const list = await listEnforcement(ctx);
  return {
    usersTotal: list.length,
    enrolled: list.filter((d) => d.enrolled).length,
    enforced: list.filter((d) => d.state === 'enforced').length,
    grace: list.filter((d) => d.state === 'grace').length,
    notEnrolled: list.filter((d) => !d.enrolled).map((d) => d.email),
    enforcedWithoutCertificate: list.filter((d) => d.state === 'enforced' && !d.enrolled).map((d) => d.email),
    readyToEnforce: list.filter((d) => d.state === 'grace' && d.enrolled).map((d) => d.email),
  };
}
