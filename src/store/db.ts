import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from '../../migrations/index.ts';

// int8 (COUNT, bigInteger columns) arrives as a string from pg; every value we store fits a double.
pg.types.setTypeParser(20, (v) => Number(v));

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseOptions {
  /** postgres://… ; absent means SQLite at sqliteFile. */
  databaseUrl?: string;
  sqliteFile: string;
}

interface SqliteStatement {
  readonly reader: boolean;
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

interface SqliteConnection {
  readonly open: boolean;
  readonly inTransaction: boolean;
  pragma(s: string): unknown;
  prepare(sql: string): SqliteStatement;
}

/** The SQLite pool's one connection, once it is open (set by the pool's afterCreate). */
export interface SqliteConnectionSlot {
  current?: SqliteConnection;
}

/** A value a statement parameter may take. */
export type SqlValue = string | number | null | Buffer;

/**
 * Hand-written SQL for the statements on the issuance path, run without knex's query builder and
 * runner (~40 µs a query, ~200 µs a transaction on this kind of machine, against ~4 µs for a
 * prepared SQLite statement). On SQLite a statement runs directly on the pool's one connection when
 * that is safe: inside this store's own transaction (which holds that connection), or outside any
 * transaction. While another caller's transaction is open on it, the statement waits its turn
 * through knex like any other query, so it never runs inside somebody else's transaction. On
 * PostgreSQL statements go through knex.raw on this store's connection or transaction.
 * Identifiers are double-quoted, which both dialects read; parameters are `?`.
 */
export class DirectSql {
  constructor(
    private readonly db: Knex,
    private readonly sqlite: SqliteConnectionSlot | undefined,
  ) {}

  #connection(): SqliteConnection | undefined {
    const c = this.sqlite?.current;
    if (!c?.open) return undefined;
    return this.db.isTransaction === true || !c.inTransaction ? c : undefined;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const c = this.#connection();
    if (c) return c.prepare(sql).all(...params) as T[];
    const result: unknown = await this.db.raw(sql, params);
    return (Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? [])) as T[];
  }

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    const c = this.#connection();
    if (c) return c.prepare(sql).get(...params) as T | undefined;
    return (await this.all<T>(sql, params))[0];
  }

  /** A statement that returns no rows. */
  async run(sql: string, params: readonly SqlValue[] = []): Promise<void> {
    const c = this.#connection();
    if (c) c.prepare(sql).run(...params);
    else await this.db.raw(sql, params);
  }
}

/**
 * knex prepares every statement again on each query; SQLite can reuse a prepared statement (it
 * re-prepares by itself after a schema change). Keep the most recent ones by SQL text.
 */
function cachePreparedStatements(conn: SqliteConnection, max = 500): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, SqliteStatement>();
  conn.prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (statement !== undefined) {
      // Most recently used last, so the oldest is dropped first.
      cache.delete(sql);
    } else {
      statement = prepare(sql);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    }
    cache.set(sql, statement);
    return statement;
  };
}

export function knexConfig(opts: DatabaseOptions, sqliteSlot?: SqliteConnectionSlot): Knex.Config {
  if (opts.databaseUrl) {
    return { client: 'pg', connection: opts.databaseUrl, pool: { min: 0, max: 10 }, migrations: { migrationSource } };
  }
  return {
    client: 'better-sqlite3',
    connection: { filename: opts.sqliteFile },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        cachePreparedStatements(conn);
        conn.pragma('journal_mode = WAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        if (sqliteSlot) sqliteSlot.current = conn;
        done(null, conn);
      },
    },
    migrations: { migrationSource },
  };
}

/**
 * The SQLite file holds password hashes, the encrypted CA key and session ids: only its owner may
 * read it. It is created 0600 (SQLite gives its -wal and -shm files the same mode), and an existing
 * file, WAL or shared-memory file with a wider mode is narrowed.
 */
function secureSqliteFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
  }
}

export function openKnex(opts: DatabaseOptions): { knex: Knex; dialect: Dialect; sqliteSlot?: SqliteConnectionSlot } {
  if (opts.databaseUrl) return { knex: knexFactory(knexConfig(opts)), dialect: 'postgres' };
  secureSqliteFile(opts.sqliteFile);
  const sqliteSlot: SqliteConnectionSlot = {};
  return { knex: knexFactory(knexConfig(opts, sqliteSlot)), dialect: 'sqlite', sqliteSlot };
}

/**
 * Migrates under knex's migration lock. Instances started together on an empty database race to
 * create the migration tables and take that lock: the losers wait and try again (the winner's
 * work is then already done), for up to a minute.
 */
export async function migrateToLatest(knex: Knex): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 0; ; attempt++) {
    try {
      await knex.migrate.latest();
      return;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const raced = /already locked|already exists|duplicate key|unique constraint/i.test(message);
      if (!raced || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
    }
  }
}
