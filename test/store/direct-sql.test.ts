import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestUser, startMailca } from '../helpers/mailca.ts';

// The issuance path's hand-written statements (src/store/db.ts DirectSql) run on SQLite's one
// connection without knex: they must join their own transaction and never somebody else's.

let env: Awaited<ReturnType<typeof startMailca>>;
beforeAll(async () => {
  env = await startMailca();
});
afterAll(async () => {
  await env?.stop();
});

describe('hand-written statements', () => {
  it('outside a transaction never see, or join, another caller’s open transaction', async () => {
    const store = env.m.store;
    const alice = await addTestUser(env.m, 'direct-alice@example.test');
    const latestBefore = await store.changes.latest();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const started = new Promise<void>((r) => (inside = r));
    const rolledBack = store
      .transaction(async (tx) => {
        await tx.blockedKeys.block('a'.repeat(64), 'serial-in-transaction', new Date());
        await tx.changes.record('user', [alice.id]);
        // Seen inside the transaction, by the same hand-written statement.
        expect(await tx.blockedKeys.findBlockingSerial('a'.repeat(64))).toBe('serial-in-transaction');
        inside();
        await held;
        throw new Error('undo');
      })
      .catch((e: unknown) => e);
    await started;
    // Outside: the uncommitted row is not visible (on SQLite this read waits for the transaction to end).
    const outsideRead = store.blockedKeys.findBlockingSerial('a'.repeat(64));
    // A write outside must not become part of the transaction that is about to roll back.
    const outsideWrite = store.changes.record('certificate', ['written-outside']);
    release();
    expect(await outsideRead).toBeUndefined();
    await outsideWrite;
    expect(((await rolledBack) as Error).message).toBe('undo');
    expect(await store.blockedKeys.findBlockingSerial('a'.repeat(64))).toBeUndefined();
    const after = await store.changes.since(latestBefore, 10);
    expect(after.map((c) => c.key)).toEqual(['written-outside']);
  });

  it('a failing change in a savepoint undoes only itself', async () => {
    const store = env.m.store;
    const before = await store.changes.latest();
    await store.transaction(async (tx) => {
      await tx.savepoint((sp) => sp.changes.record('certificate', ['kept']));
      await expect(
        tx.savepoint(async (sp) => {
          await sp.changes.record('certificate', ['undone']);
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      await tx.savepoint((sp) => sp.changes.record('certificate', ['kept too']));
    });
    expect((await store.changes.since(before, 10)).map((c) => c.key)).toEqual(['kept', 'kept too']);
  });
});
