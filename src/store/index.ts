import type { Knex } from 'knex';
import { AliasStore } from './aliases.ts';
import { AuditStore } from './audit.ts';
import { CaStore, CrlStore } from './cas.ts';
import { CertificateStore } from './certificates.ts';
import { ChangeStore, CHANGES_CHANNEL } from './changes.ts';
import { EnforcementStore } from './enforcement.ts';
import { MailLogStore } from './mail-log.ts';
import { SettingsStore } from './settings.ts';
import { migrateToLatest, openKnex, type DatabaseOptions, type Dialect } from './db.ts';
import { BlockedKeyStore, SessionStore, TokenStore } from './tokens.ts';
import { UserStore } from './users.ts';

export type * from './types.ts';
export { certificateStatus } from './certificates.ts';
export type { AuditVerification, NewAuditEvent } from './audit.ts';
export type { Change, ChangeKind } from './changes.ts';
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

  private constructor(
    private readonly db: Knex,
    readonly dialect: Dialect,
    private readonly owned: boolean,
  ) {
    this.changes = new ChangeStore(db, dialect);
    this.settings = new SettingsStore(db);
    this.users = new UserStore(db, this.changes);
    this.aliases = new AliasStore(db, this.changes);
    this.certificates = new CertificateStore(db, this.changes, dialect);
    this.tokens = new TokenStore(db);
    this.blockedKeys = new BlockedKeyStore(db);
    this.sessions = new SessionStore(db);
    this.audit = new AuditStore(db);
    this.cas = new CaStore(db, this.changes);
    this.crls = new CrlStore(db);
    this.enforcement = new EnforcementStore(db, this.changes);
    this.mailLog = new MailLogStore(db);
  }

  static async open(opts: DatabaseOptions): Promise<Store> {
    const { knex, dialect } = openKnex(opts);
    try {
      await migrateToLatest(knex);
    } catch (e) {
      await knex.destroy();
      throw e;
    }
    return new Store(knex, dialect, true);
  }

  /** Runs `fn` in one transaction; nested calls join the outer one. */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    return this.db.transaction((trx) => fn(new Store(trx, this.dialect, false)));
  }

  /** Runs `fn` in a savepoint of the current transaction (its own transaction outside one): a failure undoes only its work. */
  async savepoint<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.db.transaction((trx) => fn(new Store(trx, this.dialect, false)));
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
      else await tx.db('locks').insert({ name, version: 1 }).onConflict('name').merge({ version: tx.db.raw('locks.version + 1') });
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
