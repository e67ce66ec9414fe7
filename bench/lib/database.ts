// Bench-only: a fresh database per measurement (an SQLite file in a temp dir, or a new PostgreSQL
// database created and dropped on the local server), like the tests' helper.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface BenchDatabase {
  kind: DatabaseKind;
  dataDir: string;
  /** mailca's SQLite file (used when databaseUrl is absent). */
  sqliteFile: string;
  databaseUrl?: string;
  drop(): Promise<void>;
}

export const PG_ADMIN_URL = process.env.MAILCA_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createBenchDatabase(kind: DatabaseKind): Promise<BenchDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailca-bench-'));
  const sqliteFile = path.join(dataDir, 'mailca.sqlite');
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (kind === 'sqlite') return { kind, dataDir, sqliteFile, drop: async () => removeDir() };
  const name = `mailca_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (e) {
    removeDir();
    throw new Error(`PostgreSQL at ${new URL(PG_ADMIN_URL).host}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    kind,
    dataDir,
    sqliteFile,
    databaseUrl: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      removeDir();
    },
  };
}
