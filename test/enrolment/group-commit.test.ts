import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audited } from '../../src/enrolment/context.ts';
import { Conflict } from '../../src/errors.ts';
import { startMailca, testActor } from '../helpers/mailca.ts';

type Env = Awaited<ReturnType<typeof startMailca>>;
let env: Env;

beforeAll(async () => {
  env = await startMailca();
});
afterAll(async () => {
  await env?.stop();
});

describe('group commit of audited changes', () => {
  it('commits concurrent changes together; one that fails undoes only itself, with no audit event', async () => {
    const { ctx } = env.m;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        audited(ctx, testActor, { action: 'test.change', target: `u${i}` }, async (tx) => {
          const user = await tx.users.insert({ email: `u${i}@example.test`, displayName: null, isAdmin: false, passwordHash: null, createdAt: ctx.clock.now() });
          if (i % 3 === 0) throw new Conflict('test_refused', `change ${i} refused`);
          return user.id;
        }),
      ),
    );
    results.forEach((r, i) => expect(r.status, `change ${i}`).toBe(i % 3 === 0 ? 'rejected' : 'fulfilled'));
    const emails = new Set((await ctx.store.users.list()).map((u) => u.email));
    const events = (await ctx.store.audit.list({ limit: 100, offset: 0, action: 'test.change' })).items.map((e) => e.target);
    for (let i = 0; i < 40; i++) {
      expect(emails.has(`u${i}@example.test`), `user ${i}`).toBe(i % 3 !== 0);
      expect(events.includes(`u${i}`), `event ${i}`).toBe(i % 3 !== 0);
    }
    expect(await ctx.store.audit.verify()).toMatchObject({ ok: true });
  });
});
