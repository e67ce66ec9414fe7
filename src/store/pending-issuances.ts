import type { Knex } from 'knex';
import type { DirectSql } from './db.ts';

/** A certificate recorded before it is signed (see migration 012). */
export interface PendingIssuance {
  serial: string;
  caId: number;
  userId: number;
  email: string;
  spkiSha256: string;
  notBefore: Date;
  notAfter: Date;
  requestedAt: Date;
  /** Set when signing or storing failed; an open row with none is an issuance interrupted between the steps. */
  failedAt: Date | null;
  failure: string | null;
}

interface PendingIssuanceRow {
  serial: string;
  ca_id: number;
  user_id: number;
  email: string;
  spki_sha256: string;
  not_before: number;
  not_after: number;
  requested_at: number;
  failed_at: number | null;
  failure: string | null;
}

const toPending = (r: PendingIssuanceRow): PendingIssuance => ({
  serial: r.serial,
  caId: r.ca_id,
  userId: r.user_id,
  email: r.email,
  spkiSha256: r.spki_sha256,
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  requestedAt: new Date(r.requested_at),
  failedAt: r.failed_at === null ? null : new Date(r.failed_at),
  failure: r.failure,
});

/** Issuances recorded and not (yet) stored as certificates. On the issuance path: hand-written statements. */
export class PendingIssuanceStore {
  constructor(
    private readonly db: Knex,
    private readonly direct: DirectSql,
  ) {}

  async insert(p: Omit<PendingIssuance, 'failedAt' | 'failure'>): Promise<void> {
    await this.direct.run(
      'INSERT INTO "pending_issuances" ("serial", "ca_id", "user_id", "email", "spki_sha256", "not_before", "not_after", "requested_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [p.serial, p.caId, p.userId, p.email, p.spkiSha256, p.notBefore.getTime(), p.notAfter.getTime(), p.requestedAt.getTime()],
    );
  }

  /** The certificate is stored: its pending record has served its purpose. */
  async complete(serial: string): Promise<void> {
    await this.direct.run('DELETE FROM "pending_issuances" WHERE "serial" = ?', [serial]);
  }

  async fail(serial: string, at: Date, failure: string): Promise<void> {
    await this.db('pending_issuances').where({ serial }).update({ failed_at: at.getTime(), failure: failure.slice(0, 2000) });
  }

  /** Issuances that failed, or were requested before `before` and never finished, oldest first. */
  async listUnfinished(before: Date): Promise<PendingIssuance[]> {
    const rows = await this.db<PendingIssuanceRow>('pending_issuances')
      .where((w) => w.whereNotNull('failed_at').orWhere('requested_at', '<', before.getTime()))
      .orderBy('requested_at');
    return rows.map(toPending);
  }
}
