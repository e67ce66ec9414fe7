import type { Knex } from 'knex';
import { AliasStore } from './aliases.ts';
import { AuditStore } from './audit.ts';
import { CaStore, CrlStore } from './cas.ts';
import { CertificateStore } from './certificates.ts';
import { ChangeStore, CHANGES_CHANNEL } from './changes.ts';
import { EnforcementStore } from './enforcement.ts';
import { MailLogStore } from './mail-log.ts';
import { PendingIssuanceStore } from './pending-issuances.ts';
import { SettingsStore } from './settings.ts';
import { DirectSql, migrateToLatest, openKnex, type DatabaseOptions, type Dialect, type SqliteConnectionSlot } from './db.ts';
import { BlockedKeyStore, SessionStore, TokenStore } from './tokens.ts';
import { UserStore } from './users.ts';

export type * from './types.ts';
export { certificateStatus } from './certificates.ts';
export type { AuditVerification, NewAuditEvent } from './audit.ts';
export type { Change, ChangeKind } from './changes.ts';
export type { PendingIssuance } from './pending-issuances.ts';
export type { EnforcementOverride, EnforcementPolicy, UserEnforcementFacts } from './enforcement.ts';

/** Named critical sections; on PostgreSQL they hold across instances (advisory locks). */
export type LockName = 'audit' | 'crl' | 'issuance';
const LOCK_KEYS: Record<LockName, number> = { audit: 7_261_001, crl: 7_261_002, issuance: 7_261_003 };

/** The only gateway to the database. Each part is a narrow set of queries for its consumers. */
export class Store {
  readonly users: UserStore;
  readonly aliases: AliasStore;
  readonly certificates: CertificateStore;
  readonly tokens: TokenStore;
  readonly blockedKeys: BlockedKeyStore;
  readonly sessions: SessionStore;
  readonly audit: AuditStore;
  readonly cas: CaStore;
  readonly crls: CrlStore;
  readonly enforcement: EnforcementStore;
  readonly mailLog: MailLogStore;
  readonly changes: ChangeStore;
  readonly settings: SettingsStore;
  readonly pendingIssuances: PendingIssuanceStore;

  /** The issuance path's hand-written statements on this store's connection or transaction. */
  private readonly direct: DirectSql;

  private constructor(
    private readonly db: Knex,
    readonly dialect: Dialect,
    private readonly owned: boolean,
    private readonly sqliteSlot: SqliteConnectionSlot | undefined,
  ) {
    const direct = (this.direct = new DirectSql(db, sqliteSlot));
    this.changes = new ChangeStore(db, dialect, direct);
    this.settings = new SettingsStore(db);
    this.users = new UserStore(db, this.changes, direct);
    this.aliases = new AliasStore(db, this.changes);
    this.certificates = new CertificateStore(db, this.changes, dialect, direct);
    this.tokens = new TokenStore(db);
    this.blockedKeys = new BlockedKeyStore(db, direct);
    this.sessions = new SessionStore(db, direct);
    this.audit = new AuditStore(db, dialect, direct);
    this.cas = new CaStore(db, this.changes);
    this.crls = new CrlStore(db);
    this.enforcement = new EnforcementStore(db, this.changes);
    this.mailLog = new MailLogStore(db);
    this.pendingIssuances = new PendingIssuanceStore(db, direct);
  }

  static async open(opts: DatabaseOptions): Promise<Store> {
    const { knex, dialect, sqliteSlot } = openKnex(opts);
    try {
      await migrateToLatest(knex);
    } catch (e) {
      await knex.destroy();
      throw e;
    }
    return new Store(knex, dialect, true, sqliteSlot);
  }

  /** Runs `fn` in one transaction; nested calls join the outer one. */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    return this.db.transaction((trx) => fn(new Store(trx, this.dialect, false, this.sqliteSlot)));
  }

  #savepoints = 0;

  /**
   * Runs `fn` in a savepoint of the current transaction (its own transaction outside one): a failure
   * undoes only its work. Inside a transaction the savepoint is three plain statements, not a nested
   * knex transaction (the group commit opens one per change).
   */
  async savepoint<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (!this.inTransaction) return this.transaction(fn);
    const name = `change_${++this.#savepoints}`;
    await this.direct.run(`SAVEPOINT ${name}`);
    let result: T;
    try {
      result = await fn(this);
    } catch (e) {
      await this.direct.run(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.direct.run(`RELEASE SAVEPOINT ${name}`);
      throw e;
    }
    await this.direct.run(`RELEASE SAVEPOINT ${name}`);
    return result;
  }

  /** True inside a transaction. */
  get inTransaction(): boolean {
    return this.db.isTransaction === true;
  }

  /**
   * Runs `fn` in a transaction that holds the named lock, across processes and instances.
   * PostgreSQL: a transaction-scoped advisory lock. SQLite: a write first, which takes the
   * database's write lock (waiting up to busy_timeout) before anything is read.
   */
  async withLock<T>(name: LockName, fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.transaction(async (tx) => {
      if (tx.dialect === 'postgres') await tx.db.raw('select pg_advisory_xact_lock(?)', [LOCK_KEYS[name]]);
      else await tx.direct.run('INSERT INTO "locks" ("name", "version") VALUES (?, 1) ON CONFLICT ("name") DO UPDATE SET "version" = "locks"."version" + 1', [name]);
      return fn(tx);
    });
  }

  /**
   * Calls `onChange` soon after another connection commits a change (PostgreSQL LISTEN/NOTIFY, on a
   * connection of its own). SQLite has no notifications: readers poll `changes.latest()`, which is
   * one index lookup. Returns a function that stops listening.
   */
  async listenForChanges(onChange: () => void, onError: (e: unknown) => void): Promise<() => Promise<void>> {
    if (this.dialect !== 'postgres') return async () => undefined;
    type PgConnection = { query(sql: string): Promise<unknown>; on(event: string, fn: (...args: unknown[]) => void): void; removeAllListeners(): void };
    type PgClient = { acquireRawConnection(): Promise<PgConnection>; destroyRawConnection(c: PgConnection): Promise<void> };
    const client = this.db.client as PgClient;
    const conn = await client.acquireRawConnection();
    conn.on('notification', () => onChange());
    conn.on('error', (e) => onError(e));
    await conn.query(`LISTEN ${CHANGES_CHANNEL}`);
    return async () => {
      conn.removeAllListeners();
      await client.destroyRawConnection(conn).catch(() => undefined);
    };
  }

  async ping(): Promise<void> {
    await this.db.raw('select 1');
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.destroy();
  }
}
