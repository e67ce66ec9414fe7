import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

// 100,000 on SQLite (the case the brief sizes for); fewer on PostgreSQL, where seeding row by row is slow.
const USERS = process.env.MAILCA_TEST_DB === 'postgres' ? 5_000 : 100_000;
let db: TestDatabase;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await Store.open({ databaseUrl: db.databaseUrl, sqliteFile: `${db.dataDir}/mailca.sqlite` });
  // Seeded in one transaction straight through the store.
  await store.transaction(async (tx) => {
    for (let i = 0; i < USERS; i++) {
      await tx.users.insert({ email: `u${String(i).padStart(6, '0')}@example.test`, displayName: null, isAdmin: false, passwordHash: null, createdAt: new Date(0) });
    }
  });
}, 600_000);
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe(`users page at ${USERS} users`, () => {
  it('pages in address order, with a prefix search and the total', async () => {
    const first = await store.users.page({ limit: 3, offset: 0 });
    expect(first.total).toBe(USERS);
    expect(first.items.map((u) => u.email)).toEqual(['u000000@example.test', 'u000001@example.test', 'u000002@example.test']);
    const late = await store.users.page({ limit: 2, offset: USERS - 2 });
    const last = (i: number) => `u${String(i).padStart(6, '0')}@example.test`;
    expect(late.items.map((u) => u.email)).toEqual([last(USERS - 2), last(USERS - 1)]);
    const found = await store.users.page({ prefix: 'u00123', limit: 50, offset: 0 });
    expect(found.total).toBe(10);
    expect(found.items[9]!.email).toBe('u001239@example.test');
    // LIKE wildcards in the search are plain characters.
    expect((await store.users.page({ prefix: 'u_1', limit: 5, offset: 0 })).total).toBe(0);
    expect((await store.users.page({ prefix: 'u0%', limit: 5, offset: 0 })).total).toBe(0);
  });

  it.runIf(process.env.MAILCA_TEST_DB !== 'postgres')('reads pages through the email index on SQLite, with no sort step', async () => {
    for (const filter of [{ limit: 50, offset: 50_000 }, { prefix: 'u0999', limit: 50, offset: 0 }]) {
      const plan = (await store.users.explainPage(filter)).join('\n');
      expect(plan).toMatch(/USING (COVERING )?INDEX users_email_unique/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });
});
