import type { Knex } from 'knex';
import type { ChangeStore } from './changes.ts';

export type EnforcementOverride = 'grace' | 'enforced';

export interface EnforcementPolicy {
  /** Enforce each user this many days after their first enrolment; null = no such schedule. */
  afterFirstEnrolmentDays: number | null;
  /** Enforce everyone from this instant; null = no deadline. */
  deadline: Date | null;
}

/** What the enforcement decision needs to know about one enabled user. */
export interface UserEnforcementFacts {
  userId: number;
  email: string;
  override: EnforcementOverride | null;
  enforceAt: Date | null;
  firstEnrolmentAt: Date | null;
  activeCertificates: number;
}

const POLICY_KEY = 'enforcement_policy';

interface FactsRow {
  id: number;
  email: string;
  enforcement: EnforcementOverride | null;
  enforce_at: number | null;
  first: number | string | null;
  active: number | string | null;
}

const toFacts = (r: FactsRow): UserEnforcementFacts => ({
  userId: Number(r.id),
  email: r.email,
  override: r.enforcement,
  enforceAt: r.enforce_at === null ? null : new Date(Number(r.enforce_at)),
  firstEnrolmentAt: r.first === null ? null : new Date(Number(r.first)),
  activeCertificates: Number(r.active ?? 0),
});

export class EnforcementStore {
  constructor(
    private readonly db: Knex,
    private readonly changes: ChangeStore,
  ) {}

  async setForUser(userId: number, override: EnforcementOverride | null, enforceAt: Date | null): Promise<void> {
    await this.db('users').where({ id: userId }).update({ enforcement: override, enforce_at: enforceAt?.getTime() ?? null });
    await this.changes.record('user', [userId]);
  }

  /** Sets (or clears) the override for every enabled user at once. */
  async setForAll(override: EnforcementOverride | null): Promise<number> {
    const n = await this.db('users').whereNull('disabled_at').update({ enforcement: override, enforce_at: null });
    await this.changes.record('all');
    return n;
  }

  /** Sets the override for these users (enabled ones only); returns how many changed. */
  async setForUsers(userIds: readonly number[], override: EnforcementOverride | null): Promise<number> {
    let n = 0;
    for (let i = 0; i < userIds.length; i += 500) {
      n += await this.db('users').whereIn('id', userIds.slice(i, i + 500)).whereNull('disabled_at').update({ enforcement: override, enforce_at: null });
    }
    await this.changes.record('all');
    return n;
  }

  async policy(): Promise<EnforcementPolicy> {
    const row = await this.db('settings').where({ key: POLICY_KEY }).first<{ value: string } | undefined>();
    if (!row) return { afterFirstEnrolmentDays: null, deadline: null };
    const v = JSON.parse(row.value) as { afterFirstEnrolmentDays: number | null; deadline: number | null };
    return { afterFirstEnrolmentDays: v.afterFirstEnrolmentDays, deadline: v.deadline === null ? null : new Date(v.deadline) };
  }

  async setPolicy(p: EnforcementPolicy): Promise<void> {
    const value = JSON.stringify({ afterFirstEnrolmentDays: p.afterFirstEnrolmentDays, deadline: p.deadline?.getTime() ?? null });
    await this.db('settings').insert({ key: POLICY_KEY, value }).onConflict('key').merge();
    await this.changes.record('all');
  }

  /**
   * The facts of at most `limit` enabled users whose address sorts after `after` (in the database's
   * order), by address: a full refresh reads every user a page at a time, never all at once. Each
   * user's certificates are looked up through their user_id index, so a page costs its own users.
   */
  async factsPage(now: Date, after: string | undefined, limit: number): Promise<UserEnforcementFacts[]> {
    const t = now.getTime();
    let q = this.db('users as u').whereNull('u.disabled_at');
    if (after !== undefined) q = q.where('u.email', '>', after);
    const rows = await q
      .orderBy('u.email')
      .limit(limit)
      .select('u.id', 'u.email', 'u.enforcement', 'u.enforce_at')
      .select(this.db.raw('(select min(c.created_at) from certificates c where c.user_id = u.id) as first'))
      .select(this.db.raw('(select count(*) from certificates c where c.user_id = u.id and c.revoked_at is null and c.not_before <= ? and c.not_after > ?) as active', [t, t]));
    return (rows as FactsRow[]).map(toFacts);
  }

  /** One row per enabled user (or per enabled user of `userIds`), ordered by address: overrides, first enrolment and active certificates at `now`. */
  async facts(now: Date, userIds?: readonly number[]): Promise<UserEnforcementFacts[]> {
    if (userIds && userIds.length > 500) {
      const parts: UserEnforcementFacts[] = [];
      for (let i = 0; i < userIds.length; i += 500) for (const f of await this.facts(now, userIds.slice(i, i + 500))) parts.push(f);
      return parts.sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
    }
    const t = now.getTime();
    let q = this.db('users as u')
      .leftJoin('certificates as c', 'c.user_id', 'u.id')
      .whereNull('u.disabled_at');
    if (userIds) q = q.whereIn('u.id', userIds);
    const rows = await q
      .groupBy('u.id', 'u.email', 'u.enforcement', 'u.enforce_at')
      .orderBy('u.email')
      .select('u.id', 'u.email', 'u.enforcement', 'u.enforce_at')
      .min({ first: 'c.created_at' })
      .select(
        this.db.raw('sum(case when c.revoked_at is null and c.not_before <= ? and c.not_after > ? then 1 else 0 end) as active', [t, t]),
      );
    return (rows as FactsRow[]).map(toFacts);
  }
}
