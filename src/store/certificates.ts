import type { Knex } from 'knex';
import type { ChangeStore } from './changes.ts';
import type { Dialect, DirectSql } from './db.ts';
import type { ActiveCertificate, ActiveCertificateRow, TouchedCertificate, CertificateRecord, CertificateStatus, Page, RevokedEntry, RevokedForCrl, StoredCrlEntry } from './types.ts';

interface CertificateRow {
  serial: string;
  ca_id: number;
  user_id: number;
  email: string;
  subject: string;
  fingerprint_sha256: string;
  spki_sha256: string;
  not_before: number;
  not_after: number;
  certificate_pem: string;
  device_label: string | null;
  created_at: number;
  revoked_at: number | null;
  revocation_reason: string | null;
  renewal_of: string | null;
  renewed_by: string | null;
  supersede_at: number | null;
  crl_entry_der: Uint8Array | null;
}

const toRecord = (r: CertificateRow): CertificateRecord => ({
  serial: r.serial,
  caId: r.ca_id,
  userId: r.user_id,
  email: r.email,
  subject: r.subject,
  fingerprintSha256: r.fingerprint_sha256,
  spkiSha256: r.spki_sha256,
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  certificatePem: r.certificate_pem,
  deviceLabel: r.device_label,
  createdAt: new Date(r.created_at),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
  revocationReason: r.revocation_reason,
  renewalOf: r.renewal_of,
  renewedBy: r.renewed_by,
  supersedeAt: r.supersede_at === null ? null : new Date(Number(r.supersede_at)),
});

export function certificateStatus(c: Pick<CertificateRecord, 'revokedAt' | 'notBefore' | 'notAfter'>, now: Date): CertificateStatus {
  if (c.revokedAt) return 'revoked';
  if (c.notAfter.getTime() <= now.getTime()) return 'expired';
  if (c.notBefore.getTime() > now.getTime()) return 'not_yet_valid';
  return 'active';
}

/** Narrows a query to certificates in `status` at `now`; the SQL twin of certificateStatus. */
function whereStatus(q: Knex.QueryBuilder, status: CertificateStatus, now: Date): Knex.QueryBuilder {
  const t = now.getTime();
  switch (status) {
    case 'revoked':
      return q.whereNotNull('revoked_at');
    case 'expired':
      return q.whereNull('revoked_at').where('not_after', '<=', t);
    case 'not_yet_valid':
      return q.whereNull('revoked_at').where('not_after', '>', t).where('not_before', '>', t);
    case 'active':
      return q.whereNull('revoked_at').where('not_before', '<=', t).where('not_after', '>', t);
  }
}

export class CertificateStore {
  constructor(
    private readonly db: Knex,
    private readonly changes: ChangeStore,
    private readonly dialect: Dialect,
    private readonly direct: DirectSql,
  ) {}

  /** The certificates table, read through the named index on SQLite (PostgreSQL's planner needs no hint). */
  #indexed(index: string): Knex.Raw | string {
    return this.dialect === 'sqlite' ? this.db.raw(`certificates indexed by ${index}`) : 'certificates';
  }

  /**
   * The smallest `column` value past `bound` among unrevoked certificates, walking that column's
   * index: SQLite would otherwise pick the revoked_at index (it takes `revoked_at IS NULL` for a
   * selective test) and visit every unrevoked row, a stall of ~70 ms per 100k certificates.
   */
  async #firstUnrevoked(column: 'not_after' | 'not_before' | 'supersede_at', op: '>' | '>=', bound: number): Promise<number | undefined> {
    const [row] = (await this.db
      .from(this.#indexed(`certificates_${column}_index`))
      .select(column)
      .whereNull('revoked_at')
      .where(column, op, bound)
      .orderBy(column)
      .limit(1)) as Record<string, number | string>[];
    return row === undefined ? undefined : Number(row[column]);
  }

  /** Every issuance: a hand-written statement (revocation, renewal and supersession columns start empty). */
  async insert(c: CertificateRecord): Promise<void> {
    await this.direct.run(
      'INSERT INTO "certificates" ("serial", "ca_id", "user_id", "email", "subject", "fingerprint_sha256", "spki_sha256", "not_before", "not_after", "certificate_pem", "device_label", "created_at", "renewal_of") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [c.serial, c.caId, c.userId, c.email, c.subject, c.fingerprintSha256, c.spkiSha256, c.notBefore.getTime(), c.notAfter.getTime(), c.certificatePem, c.deviceLabel, c.createdAt.getTime(), c.renewalOf],
    );
    await this.changes.record('certificate', [c.serial]);
  }

  /** Links a predecessor to its successor and schedules the end of their overlap. */
  async markRenewed(oldSerial: string, newSerial: string, supersedeAt: Date): Promise<boolean> {
    const n = await this.db('certificates')
      .where({ serial: oldSerial })
      .whereNull('renewed_by')
      .whereNull('revoked_at')
      .update({ renewed_by: newSerial, supersede_at: supersedeAt.getTime() });
    return n > 0;
  }

  /** Ends an overlap now (or at `at`); false if the certificate has no pending overlap. */
  async setSupersedeAt(serial: string, at: Date): Promise<boolean> {
    const n = await this.db('certificates').where({ serial }).whereNull('revoked_at').whereNotNull('renewed_by').update({ supersede_at: at.getTime() });
    return n > 0;
  }

  /** Unrevoked certificates whose overlap has ended by `now`. */
  async listDueSupersessions(now: Date): Promise<{ serial: string; supersedeAt: Date }[]> {
    const rows = await this.db.from(this.#indexed('certificates_supersede_at_index')).select('serial', 'supersede_at').whereNull('revoked_at').where('supersede_at', '<=', now.getTime()).orderBy('supersede_at');
    return (rows as { serial: string; supersede_at: number }[]).map((r) => ({ serial: r.serial, supersedeAt: new Date(Number(r.supersede_at)) }));
  }

  async nextSupersession(now: Date): Promise<Date | undefined> {
    const m = await this.#firstUnrevoked('supersede_at', '>=', now.getTime());
    return m === undefined ? undefined : new Date(m);
  }

  /** Certificates (active at `now`, not yet renewed) expiring before `before`: reminder candidates. */
  async listExpiringUnrenewed(now: Date, before: Date): Promise<CertificateRecord[]> {
    const rows = await whereStatus(this.db<CertificateRow>('certificates'), 'active', now).whereNull('renewed_by').where('not_after', '<=', before.getTime()).orderBy('not_after');
    return (rows as CertificateRow[]).map(toRecord);
  }

  /** Per CA: unrevoked certificates still valid at `now`, and the latest notAfter among them. */
  async usageByCa(now: Date): Promise<Map<number, { active: number; lastNotAfter: Date | null }>> {
    const rows = await this.db('certificates')
      .select('ca_id')
      .count({ n: '*' })
      .max({ last: 'not_after' })
      .whereNull('revoked_at')
      .where('not_after', '>', now.getTime())
      .groupBy('ca_id');
    return new Map(
      (rows as { ca_id: number; n: number | string; last: number | null }[]).map((r) => [Number(r.ca_id), { active: Number(r.n), lastNotAfter: r.last === null ? null : new Date(Number(r.last)) }]),
    );
  }

  async listUnrevokedForCa(caId: number, now: Date): Promise<CertificateRecord[]> {
    const rows = await this.db<CertificateRow>('certificates').where({ ca_id: caId }).whereNull('revoked_at').where('not_after', '>', now.getTime());
    return rows.map(toRecord);
  }

  async listActiveForCa(caId: number, now: Date): Promise<CertificateRecord[]> {
    const rows = await whereStatus(this.db<CertificateRow>('certificates').where({ ca_id: caId }), 'active', now);
    return (rows as CertificateRow[]).map(toRecord);
  }

  async findBySerial(serial: string): Promise<CertificateRecord | undefined> {
    const row = await this.db<CertificateRow>('certificates').where({ serial }).first();
    return row && toRecord(row);
  }

  async list(filter: { email?: string; status?: CertificateStatus; now: Date; limit: number; offset: number }): Promise<Page<CertificateRecord>> {
    const base = () => {
      let q = this.db<CertificateRow>('certificates');
      if (filter.email) q = q.where({ email: filter.email });
      if (filter.status) q = whereStatus(q, filter.status, filter.now);
      return q;
    };
    const [countRow] = await base().count<{ n: number }[]>({ n: '*' });
    const rows = await base().orderBy([{ column: 'created_at', order: 'desc' }, { column: 'serial' }]).limit(filter.limit).offset(filter.offset);
    return { items: rows.map(toRecord), total: Number(countRow?.n ?? 0) };
  }

  async listForUser(userId: number): Promise<CertificateRecord[]> {
    const rows = await this.db<CertificateRow>('certificates').where({ user_id: userId }).orderBy('created_at', 'desc');
    return rows.map(toRecord);
  }

  /** Unrevoked, unexpired certificates of a user (including ones not yet valid). */
  async listUnrevokedForUser(userId: number, now: Date): Promise<CertificateRecord[]> {
    const rows = await this.db<CertificateRow>('certificates')
      .where({ user_id: userId })
      .whereNull('revoked_at')
      .where('not_after', '>', now.getTime());
    return rows.map(toRecord);
  }

  /** Every active certificate at `now`, ordered by fingerprint so the lists are byte-stable. */
  async listActive(now: Date): Promise<ActiveCertificate[]> {
    const rows = await whereStatus(
      this.db('certificates').select('serial', 'email', 'subject', 'fingerprint_sha256', 'not_after'),
      'active',
      now,
    ).orderBy('fingerprint_sha256');
    return (rows as Pick<CertificateRow, 'serial' | 'email' | 'subject' | 'fingerprint_sha256' | 'not_after'>[]).map((r) => ({
      serial: r.serial,
      email: r.email,
      subject: r.subject,
      fingerprintSha256: r.fingerprint_sha256,
      notAfter: new Date(r.not_after),
    }));
  }

  /**
   * Active certificates at `now` whose fingerprint is in [from, to) (hex prefixes; `to` undefined = to
   * the end) and after `after`, by fingerprint, at most `limit`: the publisher reads the lists in slices.
   */
  async listActiveInRange(now: Date, range: { from: string; to?: string; after?: string; limit: number }): Promise<ActiveCertificateRow[]> {
    // Walk the fingerprint index: with the status columns' indexes SQLite would scan every active
    // row for each slice (PostgreSQL's planner picks the ordered index by itself).
    let q = whereStatus(this.db.from(this.#indexed('certificates_fingerprint_sha256_unique')).select('serial', 'user_id', 'email', 'subject', 'fingerprint_sha256', 'spki_sha256', 'not_after'), 'active', now);
    q = range.after !== undefined ? q.where('fingerprint_sha256', '>', range.after) : q.where('fingerprint_sha256', '>=', range.from);
    if (range.to !== undefined) q = q.where('fingerprint_sha256', '<', range.to);
    const rows = await q.orderBy('fingerprint_sha256').limit(range.limit);
    return (rows as Pick<CertificateRow, 'serial' | 'user_id' | 'email' | 'subject' | 'fingerprint_sha256' | 'spki_sha256' | 'not_after'>[]).map((r) => ({
      serial: r.serial,
      userId: Number(r.user_id),
      email: r.email,
      subject: r.subject,
      fingerprintSha256: r.fingerprint_sha256,
      spkiSha256: r.spki_sha256,
      notAfter: new Date(Number(r.not_after)),
    }));
  }

  /** Fingerprint, CA and revocation state of the given certificates (what a change feed entry touched). */
  async touchedBySerials(serials: readonly string[]): Promise<TouchedCertificate[]> {
    const out: TouchedCertificate[] = [];
    for (let i = 0; i < serials.length; i += 500) {
      const rows = await this.db('certificates').select('serial', 'fingerprint_sha256', 'ca_id', 'user_id', 'revoked_at').whereIn('serial', serials.slice(i, i + 500));
      for (const r of rows as Pick<CertificateRow, 'serial' | 'fingerprint_sha256' | 'ca_id' | 'user_id' | 'revoked_at'>[]) {
        out.push({ serial: r.serial, fingerprintSha256: r.fingerprint_sha256, caId: Number(r.ca_id), userId: Number(r.user_id), revoked: r.revoked_at !== null });
      }
    }
    return out;
  }

  /** Fingerprints of the unrevoked, unexpired certificates of these users. */
  async fingerprintsForUsers(userIds: readonly number[], now: Date): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < userIds.length; i += 500) {
      const rows = await this.db('certificates').select('fingerprint_sha256').whereIn('user_id', userIds.slice(i, i + 500)).whereNull('revoked_at').where('not_after', '>', now.getTime());
      for (const r of rows as { fingerprint_sha256: string }[]) out.push(r.fingerprint_sha256);
    }
    return out;
  }

  /**
   * What time alone changed in (from, to]: certificates that expired or became valid (their
   * fingerprints), and the CAs whose CRL lost an entry because a revoked certificate expired.
   */
  async validityChangesBetween(from: Date, to: Date): Promise<{ fingerprints: string[]; crlCaIds: number[] }> {
    const [f, t] = [from.getTime(), to.getTime()];
    if (t <= f) return { fingerprints: [], crlCaIds: [] };
    const ended = await this.db('certificates').select('fingerprint_sha256', 'ca_id', 'revoked_at').where('not_after', '>', f).where('not_after', '<=', t);
    const started = await this.db.from(this.#indexed('certificates_not_before_index')).select('fingerprint_sha256').whereNull('revoked_at').where('not_before', '>', f).where('not_before', '<=', t);
    const fingerprints: string[] = [];
    const crlCaIds = new Set<number>();
    for (const r of ended as Pick<CertificateRow, 'fingerprint_sha256' | 'ca_id' | 'revoked_at'>[]) {
      if (r.revoked_at === null) fingerprints.push(r.fingerprint_sha256);
      else crlCaIds.add(Number(r.ca_id));
    }
    for (const r of started as { fingerprint_sha256: string }[]) fingerprints.push(r.fingerprint_sha256);
    return { fingerprints, crlCaIds: [...crlCaIds] };
  }

  async countActive(now: Date): Promise<number> {
    const [row] = await whereStatus(this.db('certificates'), 'active', now).count<{ n: number }[]>({ n: '*' });
    return Number(row?.n ?? 0);
  }

  /**
   * Revoked certificates of one CA that have not yet expired: the CRL's entries, ordered by serial, with the
   * entry encodings stored at revocation.
   */
  async listRevokedUnexpired(caId: number, now: Date): Promise<RevokedEntry[]> {
    const rows = await this.db('certificates')
      .select('serial', 'revoked_at', 'revocation_reason', 'crl_entry_der')
      .where({ ca_id: caId })
      .whereNotNull('revoked_at')
      .where('not_after', '>', now.getTime())
      .orderBy('serial');
    return (rows as Pick<CertificateRow, 'serial' | 'revoked_at' | 'revocation_reason' | 'crl_entry_der'>[]).map((r) => ({
      serial: r.serial,
      revokedAt: new Date(Number(r.revoked_at)),
      reason: r.revocation_reason ?? 'unspecified',
      crlEntryDer: r.crl_entry_der,
    }));
  }

  /**
   * Revoked, unexpired certificates (of `serials`, or all) with what a CRL needs of them: the
   * publisher keeps these in memory so a CRL is rebuilt without reading every revoked row again.
   */
  async listRevokedForCrl(now: Date, serials?: readonly string[]): Promise<RevokedForCrl[]> {
    const read = async (some?: readonly string[]) => {
      // All of them: walk the revoked_at index (SQLite would otherwise pick not_after and visit every
      // valid row). Some: look each serial up by its key, not by a walk of every revoked row.
      let q = this.db.from(some ? 'certificates' : this.#indexed('certificates_revoked_at_index')).select('serial', 'ca_id', 'not_after', 'revoked_at', 'revocation_reason', 'crl_entry_der').whereNotNull('revoked_at').where('not_after', '>', now.getTime());
      if (some) q = q.whereIn('serial', some);
      const rows = (await q) as { serial: string; ca_id: number; not_after: number; revoked_at: number; revocation_reason: string | null; crl_entry_der: Uint8Array | null }[];
      return rows.map((r) => ({
        serial: r.serial,
        caId: Number(r.ca_id),
        notAfter: new Date(Number(r.not_after)),
        entry: r.crl_entry_der !== null ? { crlEntryDer: r.crl_entry_der } : { crlEntryDer: null, serial: r.serial, revokedAt: new Date(Number(r.revoked_at)), reason: r.revocation_reason ?? 'unspecified' },
      })) as RevokedForCrl[];
    };
    if (!serials) return read();
    const out: RevokedForCrl[] = [];
    for (let i = 0; i < serials.length; i += 500) for (const r of await read(serials.slice(i, i + 500))) out.push(r);
    return out;
  }

  /**
   * The CRL entries of one CA now (revoked, not yet expired), ordered by serial: just the stored encodings,
   * plus serial, time and reason only for rows revoked before encodings were stored. What the CRL publisher
   * reads on every check, so it fetches no more than that (about half the time of listRevokedUnexpired).
   */
  async listCrlEntries(caId: number, now: Date): Promise<StoredCrlEntry[]> {
    const legacy = (column: string, alias: string) => this.db.raw(`case when crl_entry_der is null then ${column} end as ${alias}`);
    const rows = await this.db
      .from(this.#indexed('certificates_revoked_at_index'))
      .select('crl_entry_der', legacy('serial', 'legacy_serial'), legacy('revoked_at', 'legacy_revoked_at'), legacy('revocation_reason', 'legacy_reason'))
      .where({ ca_id: caId })
      .whereNotNull('revoked_at')
      .where('not_after', '>', now.getTime())
      .orderBy('certificates.serial');
    return (rows as { crl_entry_der: Uint8Array | null; legacy_serial: string | null; legacy_revoked_at: number | string | null; legacy_reason: string | null }[]).map((r) =>
      r.crl_entry_der !== null
        ? { crlEntryDer: r.crl_entry_der }
        : { crlEntryDer: null, serial: r.legacy_serial ?? '', revokedAt: new Date(Number(r.legacy_revoked_at)), reason: r.legacy_reason ?? 'unspecified' },
    );
  }

  /**
   * Revokes every unrevoked certificate with this public key, storing `encodeCrlEntry(serial)` as each one's
   * CRL entry; returns the serials it revoked.
   */
  async revokeAllWithKey(spkiSha256: string, at: Date, reason: string, encodeCrlEntry: (serial: string) => Uint8Array): Promise<string[]> {
    const rows = await this.db('certificates').select('serial').where({ spki_sha256: spkiSha256 }).whereNull('revoked_at');
    const revoked: string[] = [];
    for (const { serial } of rows as { serial: string }[]) {
      if (await this.revoke(serial, at, reason, encodeCrlEntry(serial))) revoked.push(serial);
    }
    return revoked;
  }

  /**
   * Marks a certificate revoked and stores its CRL entry (the encoded RevokedCertificate the CRL will carry);
   * false if it was already revoked (or does not exist).
   */
  async revoke(serial: string, at: Date, reason: string, crlEntryDer: Uint8Array): Promise<boolean> {
    const n = await this.db('certificates')
      .where({ serial })
      .whereNull('revoked_at')
      .update({ revoked_at: at.getTime(), revocation_reason: reason, crl_entry_der: Buffer.from(crlEntryDer.buffer, crlEntryDer.byteOffset, crlEntryDer.byteLength) });
    if (n > 0) await this.changes.record('certificate', [serial]);
    return n > 0;
  }

  /**
   * The next instant after `now` at which the set of active certificates changes by time alone
   * (a certificate expires or becomes valid); undefined if none.
   */
  async nextValidityBoundary(now: Date): Promise<Date | undefined> {
    const t = now.getTime();
    const expiry = await this.#firstUnrevoked('not_after', '>', t);
    const start = await this.#firstUnrevoked('not_before', '>', t);
    const candidates = [expiry, start].filter((m): m is number => m !== undefined);
    return candidates.length ? new Date(Math.min(...candidates)) : undefined;
  }

  async countUsersWithActive(now: Date): Promise<number> {
    const [row] = await whereStatus(this.db('certificates'), 'active', now).countDistinct<{ n: number }[]>({ n: 'user_id' });
    return Number(row?.n ?? 0);
  }

  /** Active certificates at `now` whose validity ends by `until`: the ones about to expire. */
  async countExpiringBy(now: Date, until: Date): Promise<number> {
    const [row] = await whereStatus(this.db('certificates'), 'active', now).where('not_after', '<=', until.getTime()).count<{ n: number }[]>({ n: '*' });
    return Number(row?.n ?? 0);
  }

  /** Certificates revoked at or after `since`. */
  async countRevokedSince(since: Date): Promise<number> {
    const [row] = await this.db('certificates').where('revoked_at', '>=', since.getTime()).count<{ n: number }[]>({ n: '*' });
    return Number(row?.n ?? 0);
  }

  /**
   * Admin search: `q` matches part of the address, or the start of the serial or SHA-256 fingerprint
   * (hex, colons and case ignored); `status` narrows as in list().
   */
  async search(filter: { q?: string; status?: CertificateStatus; now: Date; limit: number; offset: number }): Promise<Page<CertificateRecord>> {
    const text = (filter.q ?? '').trim().toLowerCase();
    const hex = text.replace(/[:\s]/g, '');
    const base = () => {
      let q = this.db<CertificateRow>('certificates');
      if (text) {
        q = q.where((w) => {
          w.whereRaw("email like ? escape '\\'", [`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
          if (hex.length >= 4 && /^[0-9a-f]+$/.test(hex)) w.orWhere('serial', 'like', `${hex}%`).orWhere('fingerprint_sha256', 'like', `${hex}%`);
        });
      }
      if (filter.status) q = whereStatus(q, filter.status, filter.now);
      return q;
    };
    const [countRow] = await base().count<{ n: number }[]>({ n: '*' });
    const rows = await base().orderBy([{ column: 'created_at', order: 'desc' }, { column: 'serial' }]).limit(filter.limit).offset(filter.offset);
    return { items: rows.map(toRecord), total: Number(countRow?.n ?? 0) };
  }
}
