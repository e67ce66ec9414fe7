import type { Knex } from 'knex';

/** A send left in 'sending' this long (the sender died) may be claimed again. */
export const STALE_CLAIM_MS = 15 * 60 * 1000;

/**
 * The record of outgoing mail. A mail is sent by whoever claims its key first, so a restart or a
 * second instance never sends it twice; a failed send is claimable again after its retry time.
 */
export class MailLogStore {
  constructor(private readonly db: Knex) {}

  async claim(key: string, recipient: string, now: Date): Promise<boolean> {
    const t = now.getTime();
    const inserted = await this.db('mail_log')
      .insert({ key, recipient, status: 'sending', attempts: 1, claimed_at: t })
      .onConflict('key')
      .ignore()
      .returning('key');
    if (inserted.length > 0) return true;
    const updated = await this.db('mail_log')
      .where({ key })
      .where((q) =>
        q.where((a) => a.where({ status: 'failed' }).where('next_attempt_at', '<=', t)).orWhere((b) => b.where({ status: 'sending' }).where('claimed_at', '<=', t - STALE_CLAIM_MS)),
      )
      .update({ status: 'sending', claimed_at: t, attempts: this.db.raw('attempts + 1') });
    return updated > 0;
  }

  async markSent(key: string, at: Date): Promise<void> {
    await this.db('mail_log').where({ key }).update({ status: 'sent', sent_at: at.getTime(), last_error: null });
  }

  async markFailed(key: string, error: string, retryAt: Date): Promise<void> {
    await this.db('mail_log').where({ key }).update({ status: 'failed', last_error: error.slice(0, 1000), next_attempt_at: retryAt.getTime() });
  }

  /** Records a mail deliberately not sent (a later reminder superseded it). */
  async markSkipped(key: string, recipient: string): Promise<void> {
    await this.db('mail_log').insert({ key, recipient, status: 'skipped', attempts: 0 }).onConflict('key').ignore();
  }

  /** When the earliest failed mail may be retried. */
  async nextRetry(): Promise<Date | undefined> {
    const [row] = await this.db('mail_log').where({ status: 'failed' }).min<{ m: number | null }[]>({ m: 'next_attempt_at' });
    return row?.m === null || row?.m === undefined ? undefined : new Date(Number(row.m));
  }

  async find(key: string): Promise<{ status: string; attempts: number; sentAt: Date | null } | undefined> {
    const r = await this.db('mail_log').where({ key }).first<{ status: string; attempts: number; sent_at: number | null } | undefined>();
    return r && { status: r.status, attempts: Number(r.attempts), sentAt: r.sent_at === null ? null : new Date(Number(r.sent_at)) };
  }
}
