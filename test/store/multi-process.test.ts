import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const run = promisify(execFile);
let db: TestDatabase;
let sqliteFile: string;

beforeAll(async () => {
  db = await createTestDatabase();
  sqliteFile = path.join(db.dataDir, 'mailca.sqlite');
  await (await Store.open({ sqliteFile, databaseUrl: db.databaseUrl })).close(); // migrate once
});
afterAll(async () => {
  await db?.drop();
});

describe('several processes on one database', () => {
  it('append to the audit chain without losing a link or failing', async () => {
    const worker = path.join(import.meta.dirname, 'append-worker.ts');
    const workers = ['a', 'b', 'c', 'd'].map((name) =>
      run(process.execPath, ['--import', 'tsx', worker, sqliteFile, db.databaseUrl ?? '', name, '40'], { env: { ...process.env } }),
    );
    await Promise.all(workers);
    const store = await Store.open({ sqliteFile, databaseUrl: db.databaseUrl });
    try {
      expect(await store.audit.verify()).toEqual({ ok: true, events: 160 });
    } finally {
      await store.close();
    }
  });
});
