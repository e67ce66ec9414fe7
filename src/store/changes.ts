import type { Knex } from 'knex';
import type { Dialect, DirectSql } from './db.ts';

export type ChangeKind = 'certificate' | 'user' | 'all';

export interface Change {
  seq: number;
  kind: ChangeKind;
  key: string;
}

/** The channel PostgreSQL instances are told on when a change commits. */
export const CHANGES_CHANNEL = 'mailca_changes';

/**
 * The change feed: what changed, in commit order (changes are appended under the audit or issuance
 * lock), so every instance re-publishes only what a change touched.
 */
export class ChangeStore {
  constructor(
    private readonly db: Knex,
    private readonly dialect: Dialect,
    private readonly direct: DirectSql,
  ) {}

  async record(kind: ChangeKind, keys: readonly (string | number)[] = ['']): Promise<void> {
    if (keys.length === 0) return;
    const at = Date.now();
    if (keys.length === 1 && this.dialect === 'postgres') {
      // One round trip: the row, and the notification delivered at commit to every instance listening.
      await this.direct.run('WITH "row" AS (INSERT INTO "changes" ("at", "kind", "key") VALUES (?, ?, ?) RETURNING "seq") SELECT pg_notify(?, ?) FROM "row"', [
        at,
        kind,
        String(keys[0]),
        CHANGES_CHANNEL,
        kind,
      ]);
      return;
    }
    if (keys.length === 1) {
      await this.direct.run('INSERT INTO "changes" ("at", "kind", "key") VALUES (?, ?, ?)', [at, kind, String(keys[0])]);
    } else {
      for (let i = 0; i < keys.length; i += 500) {
        await this.db('changes').insert(keys.slice(i, i + 500).map((k) => ({ at, kind, key: String(k) })));
      }
    }
    // Delivered at commit, to every instance listening.
    if (this.dialect === 'postgres') await this.direct.run('SELECT pg_notify(?, ?)', [CHANGES_CHANNEL, kind]);
  }

  /** The newest change's sequence number (0 for none). */
  async latest(): Promise<number> {
    const [row] = await this.db('changes').max<{ m: number | null }[]>({ m: 'seq' });
    return Number(row?.m ?? 0);
  }

  /** The oldest change still kept (0 for none): a reader behind it must re-read everything. */
  async oldest(): Promise<number> {
    const [row] = await this.db('changes').min<{ m: number | null }[]>({ m: 'seq' });
    return Number(row?.m ?? 0);
  }

  /** Changes after `seq`, oldest first, at most `limit`. */
  async since(seq: number, limit: number): Promise<Change[]> {
    const rows = await this.db('changes').select('seq', 'kind', 'key').where('seq', '>', seq).orderBy('seq').limit(limit);
    return (rows as { seq: number; kind: ChangeKind; key: string }[]).map((r) => ({ seq: Number(r.seq), kind: r.kind, key: r.key }));
  }

  /** Drops changes every reader has had time to apply (older than `before`), keeping the newest. */
  async prune(before: Date): Promise<void> {
    const newest = await this.latest();
    await this.db('changes').where('at', '<', before.getTime()).where('seq', '<', newest).delete();
  }
}
