import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

/**
 * A fresh database for one test file: an SQLite file in a temp dir, or (in the postgres project) a
 * new database on the local PostgreSQL server, dropped afterwards.
 */
export interface TestDatabase {
  kind: 'sqlite' | 'postgres';
  dataDir: string;
  /** Set for PostgreSQL; absent means SQLite in dataDir. */
  databaseUrl?: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailca-test-'));
  if (process.env.MAILCA_TEST_DB !== 'postgres') {
    return { kind: 'sqlite', dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.MAILCA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `mailca_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    dataDir,
    databaseUrl: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The test database through knex directly, for tests that inspect or tamper with rows behind mailca's back. */
export function openRawDatabase(db: TestDatabase): Knex {
  return knexFactory(db.databaseUrl ? { client: 'pg', connection: db.databaseUrl } : { client: 'better-sqlite3', connection: { filename: path.join(db.dataDir, 'mailca.sqlite') }, useNullAsDefault: true });
}
