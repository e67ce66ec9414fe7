import type { Knex } from 'knex';
import type { ChangeStore } from './changes.ts';
import type { DirectSql } from './db.ts';
import type { User } from './types.ts';

interface UserRow {
  id: number;
  email: string;
  display_name: string | null;
  is_admin: boolean | number;
  password_hash: string | null;
  created_at: number;
  disabled_at: number | null;
  identity_provider: string | null;
  identity_subject: string | null;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  displayName: r.display_name,
  isAdmin: Boolean(r.is_admin),
  passwordHash: r.password_hash,
  createdAt: new Date(r.created_at),
  disabledAt: r.disabled_at === null ? null : new Date(r.disabled_at),
  identityProvider: r.identity_provider ?? null,
  identitySubject: r.identity_subject ?? null,
});

export class UserStore {
  constructor(
    private readonly db: Knex,
    private readonly changes: ChangeStore,
    private readonly direct: DirectSql,
  ) {}

  async insert(u: { email: string; displayName: string | null; isAdmin: boolean; passwordHash: string | null; createdAt: Date; identityProvider?: string | null; identitySubject?: string | null }): Promise<User> {
    const [row] = await this.db<UserRow>('users')
      .insert({
        email: u.email,
        display_name: u.displayName,
        is_admin: u.isAdmin,
        password_hash: u.passwordHash,
        created_at: u.createdAt.getTime(),
        identity_provider: u.identityProvider ?? null,
        identity_subject: u.identitySubject ?? null,
      })
      .returning('*');
    const user = toUser(row as UserRow);
    await this.changes.record('user', [user.id]);
    return user;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.db<UserRow>('users').where({ email }).first();
    return row && toUser(row);
  }

  /** On every signed-in request: a hand-written statement. */
  async findById(id: number): Promise<User | undefined> {
    const row = await this.direct.get<UserRow>('SELECT * FROM "users" WHERE "id" = ? LIMIT 1', [id]);
    return row && toUser(row);
  }

  /**
   * One page of users in address order, optionally only addresses starting with `prefix` (stored
   * lower-case). Index-driven on the unique email index: a range on SQLite (binary collation),
   * LIKE 'prefix%' on PostgreSQL (the prefix's wildcards escaped).
   */
  async page(filter: { prefix?: string; limit: number; offset: number }): Promise<{ items: User[]; total: number }> {
    const base = () => {
      const q = this.db<UserRow>('users');
      if (!filter.prefix) return q;
      if (this.db.client.config.client === 'pg') return q.whereRaw(`email like ? escape '\\'`, [filter.prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%']);
      // Addresses are printable ASCII, all below U+007F.
      return q.where('email', '>=', filter.prefix).where('email', '<', filter.prefix + '\u007f');
    };
    const [c] = await base().count<{ n: number }[]>({ n: '*' });
    const rows = await base().orderBy('email').limit(filter.limit).offset(filter.offset);
    return { items: rows.map(toUser), total: Number(c?.n ?? 0) };
  }

  /** The SQLite query plan of `page` (one line per step), to check that it stays index-driven. */
  async explainPage(filter: { prefix?: string; limit: number; offset: number }): Promise<string[]> {
    const q = this.db<UserRow>('users');
    if (filter.prefix) q.where('email', '>=', filter.prefix).where('email', '<', filter.prefix + '\u007f');
    const { sql, bindings } = q.orderBy('email').limit(filter.limit).offset(filter.offset).toSQL();
    const rows = (await this.db.raw(`explain query plan ${sql}`, bindings as Knex.RawBinding[])) as { detail: string }[];
    return rows.map((r) => r.detail);
  }

  async list(): Promise<User[]> {
    const rows = await this.db<UserRow>('users').orderBy('email');
    return rows.map(toUser);
  }

  async setDisabled(id: number, at: Date): Promise<void> {
    await this.db('users').where({ id }).whereNull('disabled_at').update({ disabled_at: at.getTime() });
    await this.changes.record('user', [id]);
  }

  async setEnabled(id: number): Promise<void> {
    await this.db('users').where({ id }).update({ disabled_at: null });
    await this.changes.record('user', [id]);
  }

  async setPasswordHash(id: number, passwordHash: string): Promise<void> {
    await this.db('users').where({ id }).update({ password_hash: passwordHash });
  }

  /** Enabled users who sign in through `provider` (e.g. "ldap"), by address. */
  async listByIdentityProvider(provider: string): Promise<User[]> {
    const rows = await this.db<UserRow>('users').where({ identity_provider: provider }).whereNull('disabled_at').orderBy('email');
    return rows.map(toUser);
  }

  /** What an identity provider says about a user: admin flag, display name, subject. */
  async updateFromProvider(id: number, u: { isAdmin?: boolean; displayName?: string | null; identitySubject?: string }): Promise<void> {
    const patch: Partial<UserRow> = {};
    if (u.isAdmin !== undefined) patch.is_admin = u.isAdmin;
    if (u.displayName !== undefined) patch.display_name = u.displayName;
    if (u.identitySubject !== undefined) patch.identity_subject = u.identitySubject;
    if (Object.keys(patch).length === 0) return;
    await this.db('users').where({ id }).update(patch);
    await this.changes.record('user', [id]);
  }

  async count(): Promise<number> {
    const row = await this.db('users').whereNull('disabled_at').count<{ n: number }[]>({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }
}
