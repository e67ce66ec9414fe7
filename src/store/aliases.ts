import type { Knex } from 'knex';
import type { ChangeStore } from './changes.ts';
import type { SenderAlias } from './types.ts';

interface AliasRow {
  address: string;
  user_id: number;
  created_at: number;
}

const toAlias = (r: AliasRow): SenderAlias => ({ address: r.address, userId: r.user_id, createdAt: new Date(r.created_at) });

/** Code-unit order: the same on SQLite and PostgreSQL whatever the database collation. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Keeps `where in` lists well under SQLite's and PostgreSQL's bound-parameter limits. */
const CHUNK = 500;

/**
 * Sender aliases: extra addresses a user's certificates may send as. Addresses are stored as given
 * (enrolment normalises them as it does user addresses); the primary key makes an address the
 * alias of at most one user. That it is never also a user's address is enforced by enrolment
 * under the audit lock, which `user add` takes too.
 */
export class AliasStore {
  constructor(
    private readonly db: Knex,
    private readonly changes: ChangeStore,
  ) {}

  async add(a: { address: string; userId: number; createdAt: Date }): Promise<SenderAlias> {
    const [row] = await this.db<AliasRow>('sender_aliases')
      .insert({ address: a.address, user_id: a.userId, created_at: a.createdAt.getTime() })
      .returning('*');
    await this.changes.record('user', [a.userId]);
    return toAlias(row as AliasRow);
  }

  /** Removes `address` if it is an alias of `userId`; false if that user has no such alias. */
  async remove(userId: number, address: string): Promise<boolean> {
    const removed = (await this.db('sender_aliases').where({ user_id: userId, address }).delete()) > 0;
    if (removed) await this.changes.record('user', [userId]);
    return removed;
  }

  /** The user's aliases, sorted by address. */
  async listForUser(userId: number): Promise<SenderAlias[]> {
    const rows = await this.db<AliasRow>('sender_aliases').where({ user_id: userId });
    return rows.map(toAlias).sort((a, b) => byCodeUnits(a.address, b.address));
  }

  /** The id of the user whose alias `address` is, or undefined. */
  async findOwner(address: string): Promise<number | undefined> {
    const row = await this.db<AliasRow>('sender_aliases').where({ address }).first('user_id');
    return row?.user_id;
  }

  /**
   * Every address each user may send as: the user's own address first, then their aliases in
   * code-unit order. For the given user ids (unknown ids are left out), or for every user when
   * `userIds` is omitted. Disabled users are included: they hold no valid certificate, so what
   * they may send as no longer matters, but their addresses stay reserved.
   */
  /**
   * The sender aliases of the users whose address sorts in (after, last] (the database's order), by
   * user id, each list in code-unit order: what one page of a full refresh needs (users without aliases are absent).
   */
  async aliasesForAddressRange(after: string | undefined, last: string): Promise<Map<number, string[]>> {
    let q = this.db('sender_aliases as a').join('users as u', 'u.id', 'a.user_id').where('u.email', '<=', last);
    if (after !== undefined) q = q.where('u.email', '>', after);
    const byUser = new Map<number, string[]>();
    for (const a of (await q.select('a.user_id', 'a.address')) as { user_id: number; address: string }[]) {
      const id = Number(a.user_id);
      const list = byUser.get(id);
      if (list) list.push(a.address);
      else byUser.set(id, [a.address]);
    }
    for (const list of byUser.values()) list.sort(byCodeUnits);
    return byUser;
  }

  async sendersForUsers(userIds?: readonly number[]): Promise<Map<number, string[]>> {
    let users: { id: number; email: string }[] = [];
    let aliases: { user_id: number; address: string }[] = [];
    if (userIds === undefined) {
      // Assigned, not spread into push: a site may have more users than a call has room for arguments.
      users = await this.db('users').select('id', 'email');
      aliases = await this.db('sender_aliases').select('user_id', 'address');
    } else {
      const ids = [...new Set(userIds)];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        users.push(...(await this.db('users').whereIn('id', chunk).select('id', 'email')));
        aliases.push(...(await this.db('sender_aliases').whereIn('user_id', chunk).select('user_id', 'address')));
      }
    }
    const byUser = new Map<number, string[]>();
    for (const a of aliases) {
      const list = byUser.get(a.user_id);
      if (list) list.push(a.address);
      else byUser.set(a.user_id, [a.address]);
    }
    const senders = new Map<number, string[]>();
    for (const u of users.sort((a, b) => a.id - b.id)) {
      senders.set(u.id, [u.email, ...(byUser.get(u.id) ?? []).sort(byCodeUnits)]);
    }
    return senders;
  }
}
