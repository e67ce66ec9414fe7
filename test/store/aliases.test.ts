import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestUser, startMailca } from '../helpers/mailca.ts';

let env: Awaited<ReturnType<typeof startMailca>>;
beforeAll(async () => {
  env = await startMailca();
});
afterAll(async () => {
  await env?.stop();
});

describe('sender alias store', () => {
  it('adds, lists in address order, finds the owner, removes only the owner’s alias', async () => {
    const aliases = env.m.store.aliases;
    const alice = await addTestUser(env.m, 'alice@example.test');
    const bob = await addTestUser(env.m, 'bob@example.test');
    const at = new Date('2027-01-01T00:00:00Z');
    const added = await aliases.add({ address: 'postmaster@example.test', userId: alice.id, createdAt: at });
    expect(added).toEqual({ address: 'postmaster@example.test', userId: alice.id, createdAt: at });
    await aliases.add({ address: 'abuse@example.test', userId: alice.id, createdAt: at });
    await aliases.add({ address: 'sales@example.test', userId: bob.id, createdAt: at });

    expect((await aliases.listForUser(alice.id)).map((a) => a.address)).toEqual(['abuse@example.test', 'postmaster@example.test']);
    expect(await aliases.findOwner('sales@example.test')).toBe(bob.id);
    expect(await aliases.findOwner('nobody@example.test')).toBeUndefined();

    // The primary key: one owner per address.
    await expect(aliases.add({ address: 'sales@example.test', userId: alice.id, createdAt: at })).rejects.toThrow();
    expect(await aliases.findOwner('sales@example.test')).toBe(bob.id);

    expect(await aliases.remove(alice.id, 'sales@example.test')).toBe(false);
    expect(await aliases.findOwner('sales@example.test')).toBe(bob.id);
    expect(await aliases.remove(bob.id, 'sales@example.test')).toBe(true);
    expect(await aliases.remove(bob.id, 'sales@example.test')).toBe(false);
    expect(await aliases.listForUser(bob.id)).toEqual([]);
  });

  it('refuses an alias of a user that does not exist', async () => {
    await expect(env.m.store.aliases.add({ address: 'ghost@example.test', userId: 987_654, createdAt: new Date() })).rejects.toThrow();
  });

  it('sendersForUsers: the owner’s address first, then aliases in code-unit order; for some users or all', async () => {
    const aliases = env.m.store.aliases;
    const carol = await addTestUser(env.m, 'carol@example.test');
    const alice = (await env.m.store.users.findByEmail('alice@example.test'))!;
    const bob = (await env.m.store.users.findByEmail('bob@example.test'))!;
    // Inserted out of order, with characters PostgreSQL collations sort differently from code units.
    for (const address of ['zz@example.test', 'a-b@example.test', 'a.b@example.test', 'ab@example.test', 'a_b@example.test']) {
      await aliases.add({ address, userId: carol.id, createdAt: new Date() });
    }
    const carolSenders = ['carol@example.test', 'a-b@example.test', 'a.b@example.test', 'a_b@example.test', 'ab@example.test', 'zz@example.test'];

    const some = await aliases.sendersForUsers([carol.id, bob.id, carol.id, 424_242]);
    expect([...some.keys()]).toEqual([bob.id, carol.id]);
    expect(some.get(bob.id)).toEqual(['bob@example.test']);
    expect(some.get(carol.id)).toEqual(carolSenders);

    const all = await aliases.sendersForUsers();
    expect(all).toEqual(
      new Map([
        [alice.id, ['alice@example.test', 'abuse@example.test', 'postmaster@example.test']],
        [bob.id, ['bob@example.test']],
        [carol.id, carolSenders],
      ]),
    );
    expect(await aliases.sendersForUsers([])).toEqual(new Map());
  });

  it('sendersForUsers answers for more users than one query may name', async () => {
    const ids = Array.from({ length: 1_200 }, (_, i) => i + 1_000_000);
    const alice = (await env.m.store.users.findByEmail('alice@example.test'))!;
    const senders = await env.m.store.aliases.sendersForUsers([...ids, alice.id]);
    expect([...senders.keys()]).toEqual([alice.id]);
    expect(senders.get(alice.id)?.[0]).toBe('alice@example.test');
  });
});
