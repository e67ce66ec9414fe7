import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Dialect, DirectSql } from './db.ts';
import type { AuditEvent } from './types.ts';

export const GENESIS_HASH = '0'.repeat(64);

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  source_ip: string | null;
  details: string | null;
  prev_hash: string;
  hash: string;
}

export interface NewAuditEvent {
  at: Date;
  actor: string;
  action: string;
  target?: string | null;
  sourceIp?: string | null;
  details?: Record<string, unknown> | null;
}

/** The hash that links an event to its predecessor; covers every stored field. */
function eventHash(prevHash: string, row: Omit<AuditRow, 'id' | 'prev_hash' | 'hash'>): string {
  const canonical = JSON.stringify([prevHash, row.at, row.actor, row.action, row.target, row.source_ip, row.details]);
  return createHash('sha256').update(canonical).digest('hex');
}

const toEvent = (r: AuditRow): AuditEvent => ({
  id: Number(r.id),
  at: new Date(r.at),
  actor: r.actor,
  action: r.action,
  target: r.target,
  sourceIp: r.source_ip,
  details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
  prevHash: r.prev_hash,
  hash: r.hash,
});

export type AuditVerification = { ok: true; events: number } | { ok: false; events: number; problem: string };

/** Appends must run inside a transaction holding Store.withLock('audit') so the chain stays linear. */
export class AuditStore {
  constructor(
    private readonly db: Knex,
    private readonly dialect: Dialect,
    private readonly direct: DirectSql,
  ) {}

  /** With every change: hand-written statements. */
  async append(e: NewAuditEvent): Promise<AuditEvent> {
    const head = await this.direct.get<{ last_hash: string }>('SELECT "last_hash" FROM "audit_head" WHERE "id" = 1');
    const prevHash = head?.last_hash ?? GENESIS_HASH;
    const fields = {
      at: e.at.getTime(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      source_ip: e.sourceIp ?? null,
      details: e.details ? JSON.stringify(e.details) : null,
    };
    const hash = eventHash(prevHash, fields);
    const values = [fields.at, fields.actor, fields.action, fields.target, fields.source_ip, fields.details, prevHash, hash];
    const insertEvent = 'INSERT INTO "audit_events" ("at", "actor", "action", "target", "source_ip", "details", "prev_hash", "hash") VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *';
    const moveHead = 'INSERT INTO "audit_head" ("id", "last_id", "last_hash") %s ON CONFLICT ("id") DO UPDATE SET "last_id" = excluded."last_id", "last_hash" = excluded."last_hash"';
    let inserted: AuditRow | undefined;
    if (this.dialect === 'postgres') {
      // One round trip for the event and the head.
      inserted = await this.direct.get<AuditRow>(`WITH "event" AS (${insertEvent}), "head" AS (${moveHead.replace('%s', 'SELECT 1, "id", "hash" FROM "event"')}) SELECT * FROM "event"`, values);
    } else {
      inserted = await this.direct.get<AuditRow>(insertEvent, values);
      if (inserted) await this.direct.run(moveHead.replace('%s', 'VALUES (1, ?, ?)'), [inserted.id, hash]);
    }
    if (!inserted) throw new Error('the audit event was not stored');
    return toEvent(inserted);
  }

  async list(filter: { limit: number; offset: number; action?: string; target?: string }): Promise<{ items: AuditEvent[]; total: number }> {
    const base = () => {
      let q = this.db<AuditRow>('audit_events');
      if (filter.action) q = q.where({ action: filter.action });
      if (filter.target) q = q.where({ target: filter.target });
      return q;
    };
    const [c] = await base().count<{ n: number }[]>({ n: '*' });
    const rows = await base().orderBy('id', 'desc').limit(filter.limit).offset(filter.offset);
    return { items: rows.map(toEvent), total: Number(c?.n ?? 0) };
  }

  /** Count of `action` events since `since` (and after event `afterId`) for a target and/or a source IP (login rate limiting). */
  async countSince(action: string, since: Date, by: { target?: string; sourceIp?: string; afterId?: number }): Promise<number> {
    let q = this.db('audit_events').where({ action }).where('at', '>=', since.getTime());
    if (by.target !== undefined) q = q.where({ target: by.target });
    if (by.sourceIp !== undefined) q = q.where({ source_ip: by.sourceIp });
    if (by.afterId !== undefined) q = q.where('id', '>', by.afterId);
    const [c] = await q.count<{ n: number }[]>({ n: '*' });
    return Number(c?.n ?? 0);
  }

  /** The id of the newest `action` event for `target` since `since`, if any. */
  async latestIdSince(action: string, target: string, since: Date): Promise<number | undefined> {
    const row = await this.db('audit_events').where({ action, target }).where('at', '>=', since.getTime()).max<{ id: number | null }>({ id: 'id' }).first();
    return row?.id === null || row?.id === undefined ? undefined : Number(row.id);
  }

  /** Walks the chain in id order; any edited, inserted or deleted row breaks it. */
  async verify(batchSize = 1000): Promise<AuditVerification> {
    let prevHash = GENESIS_HASH;
    let lastId = 0;
    let events = 0;
    for (;;) {
      const rows = await this.db<AuditRow>('audit_events').where('id', '>', lastId).orderBy('id').limit(batchSize);
      for (const r of rows) {
        events++;
        if (r.prev_hash !== prevHash) {
          return { ok: false, events, problem: `event ${r.id}: previous-hash link broken (an event before it was changed or deleted)` };
        }
        const expected = eventHash(r.prev_hash, r);
        if (expected !== r.hash) return { ok: false, events, problem: `event ${r.id}: contents changed (hash mismatch)` };
        prevHash = r.hash;
        lastId = Number(r.id);
      }
      if (rows.length < batchSize) break;
    }
    const head = await this.db('audit_head').where({ id: 1 }).first<{ last_id: number; last_hash: string } | undefined>();
    if (head && (Number(head.last_id) !== lastId || head.last_hash !== prevHash)) {
      return { ok: false, events, problem: `the newest event ${head.last_id} is missing or changed (chain ends at ${lastId || 'nothing'})` };
    }
    if (!head && events > 0) return { ok: false, events, problem: 'the chain head record is missing' };
    return { ok: true, events };
  }
}
