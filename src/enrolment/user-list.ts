import { BadRequest } from '../errors.ts';
import type { User } from '../store/index.ts';
import type { EnrolmentContext } from './context.ts';
import { decideEnforcement, type UserEnforcement } from './enforcement-policy.ts';

/** A user as the admin lists show them: who, their sender aliases, and where they stand in the migration. */
export interface UserSummary {
  user: User;
  aliases: string[];
  /** null for a disabled user (not on the lists at all). */
  enforcement: Pick<UserEnforcement, 'state' | 'basis' | 'enforcedFrom'> | null;
  activeCertificates: number;
}

/** What an admin may type to find users: the start of an address (matched case-insensitively). */
export function normalizeUserSearch(input: unknown): string | undefined {
  if (input === undefined || input === null || input === '') return undefined;
  if (typeof input !== 'string' || input.length > 320) throw new BadRequest('invalid_q', 'q must be the start of an address, at most 320 characters');
  return input.trim().toLowerCase() || undefined;
}

/** One page of users (address order), with each one's aliases, enforcement state and active certificates. */
export async function listUsers(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  filter: { q?: unknown; limit: number; offset: number },
): Promise<{ items: UserSummary[]; total: number }> {
  const now = ctx.clock.now();
  const page = await ctx.store.users.page({ prefix: normalizeUserSearch(filter.q), limit: filter.limit, offset: filter.offset });
  const ids = page.items.map((u) => u.id);
  const [facts, policy, senders] = await Promise.all([
    ids.length ? ctx.store.enforcement.facts(now, ids) : Promise.resolve([]),
    ctx.store.enforcement.policy(),
    ids.length ? ctx.store.aliases.sendersForUsers(ids) : Promise.resolve(new Map<number, string[]>()),
  ]);
  const factsById = new Map(facts.map((f) => [f.userId, f]));
  return {
    total: page.total,
    items: page.items.map((user) => {
      const f = factsById.get(user.id);
      const d = f ? decideEnforcement(f, policy, now) : undefined;
      return {
        user,
        aliases: senders.get(user.id)?.slice(1) ?? [],
        enforcement: d ? { state: d.state, basis: d.basis, enforcedFrom: d.enforcedFrom } : null,
        activeCertificates: f?.activeCertificates ?? 0,
      };
    }),
  };
}
