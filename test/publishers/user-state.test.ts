import { describe, expect, it } from 'vitest';
import type { EnforcementState, UserEnforcement } from '../../src/enrolment/enforcement-policy.ts';
import type { PublishedUser } from '../../src/publishers/formats/index.ts';
import { PublishedUsers } from '../../src/publishers/user-state.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

const BASES: UserEnforcement['basis'][] = ['override', 'user_schedule', 'after_first_enrolment', 'deadline', 'none'];

function randomUser(rand: () => number, email: string): PublishedUser {
  const state: EnforcementState = rand() < 0.3 ? 'enforced' : 'grace';
  const enforcedFrom = rand() < 0.4 ? new Date(1_800_000_000_000 + Math.floor(rand() * 1e9)) : null;
  const aliases = rand() < 0.3 ? [`alias${Math.floor(rand() * 50)}@example.org`, `b${Math.floor(rand() * 50)}@example.org`] : [];
  return { email, enforcement: { email, state, basis: BASES[Math.floor(rand() * BASES.length)]!, enforcedFrom, enrolled: rand() < 0.5 }, senders: [email, ...aliases] };
}

const plain = (u: PublishedUser) => JSON.parse(JSON.stringify(u)) as unknown;
const byEmail = (a: PublishedUser, b: PublishedUser) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0);

describe('the compact per-user state', () => {
  it('gives back exactly what was set, in address order, after a random history of sets, renames and deletes', () => {
    for (const seed of [1, 2, 3]) {
      const rand = seededRandom(seed);
      const users = new PublishedUsers();
      const reference = new Map<number, PublishedUser>();
      // A first load in the database's order (sometimes not the code-unit order), then changes.
      const initial = Array.from({ length: 300 }, (_, i) => i).map((id) => ({ id, u: randomUser(rand, `u${Math.floor(rand() * 100000)}-${id}@Example.org`) }));
      if (seed % 2 === 0) initial.sort((a, b) => byEmail(a.u, b.u));
      for (const { id, u } of initial) {
        users.append(id, u);
        reference.set(id, u);
      }
      for (let step = 0; step < 2000; step++) {
        const id = Math.floor(rand() * 400);
        const r = rand();
        const version = users.version;
        if (r < 0.15) {
          expect(users.delete(id)).toBe(reference.delete(id));
        } else {
          const old = reference.get(id);
          const next = r < 0.5 && old ? { ...old, enforcement: { ...old.enforcement, enrolled: !old.enforcement.enrolled } } : randomUser(rand, r < 0.8 && old ? old.email : `n${step}-${id}@example.org`);
          const changed = users.set(id, next);
          const same = old !== undefined && old.email === next.email && old.enforcement.state === next.enforcement.state && old.enforcement.enforcedFrom?.getTime() === next.enforcement.enforcedFrom?.getTime() && old.senders.join() === next.senders.join();
          expect(changed).toBe(!same);
          expect(users.version > version).toBe(changed);
          reference.set(id, next);
        }
        if (step % 250 === 0 || step === 1999) {
          expect([...users.sorted()].map(plain)).toEqual([...reference.values()].sort(byEmail).map(plain));
          expect(users.size).toBe(reference.size);
          const now = new Date(1_800_000_500_000);
          const expected = [...reference.values()]
            .filter((u) => u.enforcement.state === 'grace' && u.enforcement.enforcedFrom && u.enforcement.enforcedFrom > now)
            .map((u) => u.enforcement.enforcedFrom!.getTime());
          expect(users.nextEnforcementAt(now)?.getTime()).toBe(expected.length ? Math.min(...expected) : undefined);
          for (const [uid, u] of reference) {
            expect(users.senders(uid)).toEqual(u.senders);
            expect(users.state(uid)).toBe(u.enforcement.state);
          }
        }
      }
    }
  });
});
