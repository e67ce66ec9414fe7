// BENCH-ONLY direct SQL: bulk-seeds an SQLite database with many certificate rows in one
// transaction, far faster than mailca can issue them. Not a product path and not for tests.
//
// Each seeded row is a copy of a real row mailca wrote (a certificate issued, one issued and
// revoked: PreparedCa.templates) with its identity replaced: serial, fingerprint, public-key hash,
// address and owner are unique per row; validity is spread over the template's lifetime. Columns
// this file does not know (added by later migrations) are copied from the template, and where the
// template's value embeds its serial, fingerprint or address (a stored encoding, say) those are
// replaced too; rows of unknown tables that refer to a template certificate are copied the same way.

import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';

type Value = string | number | bigint | Buffer | null;
type Row = Record<string, Value>;

/**
 * Tables of the schema this file knows; a row there is never copied as a "dependent" row. The change
 * feed (`changes`) is left alone: a server starting on the database renders everything from the tables.
 */
const KNOWN_TABLES = new Set(['certificates', 'users', 'cas', 'crls', 'audit_events', 'audit_head', 'sessions', 'api_tokens', 'blocked_keys', 'settings', 'mail_log', 'locks', 'knex_migrations', 'knex_migrations_lock', 'changes', 'sender_aliases']);
const SET_PER_ROW = new Set(['serial', 'user_id', 'email', 'subject', 'fingerprint_sha256', 'spki_sha256', 'not_before', 'not_after', 'created_at']);

export interface SeededCertificate {
  serial: string;
  /** Lowercase hex, as stored. */
  fingerprintSha256: string;
  email: string;
}

export interface SeedResult {
  ms: number;
  active: number;
  revoked: number;
  /** The first `keep` active rows seeded (revocation targets). */
  kept: SeededCertificate[];
  notes: string[];
}

interface Identity {
  serial: string;
  fp: string;
  email: string;
}

function colonUpper(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}

/** How to make a copy of `template` for a new identity: which columns to rewrite, and how. */
function cloner(columns: string[], template: Row, t: Identity, skip: Set<string>): { dependent: string[]; clone(row: Row, id: Identity): void } {
  const textNeedles = (i: Identity): [string, string][] => [
    [t.serial, i.serial],
    [t.fp, i.fp],
    [t.fp.toUpperCase(), i.fp.toUpperCase()],
    [colonUpper(t.fp), colonUpper(i.fp)],
    [t.email, i.email],
  ];
  const byteNeedles = (i: Identity): [Buffer, Buffer][] => [
    [Buffer.from(t.serial, 'hex'), Buffer.from(i.serial, 'hex')],
    [Buffer.from(t.fp, 'hex'), Buffer.from(i.fp, 'hex')],
  ];
  const dependent: string[] = [];
  for (const c of columns) {
    if (skip.has(c)) continue;
    const v = template[c];
    if (typeof v === 'string' && textNeedles(t).some(([from]) => v.includes(from))) dependent.push(c);
    if (Buffer.isBuffer(v) && byteNeedles(t).some(([from]) => v.includes(from))) dependent.push(c);
  }
  return {
    dependent,
    clone(row, id) {
      for (const c of dependent) {
        const v = template[c];
        if (typeof v === 'string') {
          let s = v;
          for (const [from, to] of textNeedles(id)) s = s.split(from).join(to);
          row[c] = s;
        } else if (Buffer.isBuffer(v)) {
          const b = Buffer.from(v);
          for (const [from, to] of byteNeedles(id)) for (let at = b.indexOf(from); at >= 0; at = b.indexOf(from, at + to.length)) to.copy(b, at);
          row[c] = b;
        }
      }
    },
  };
}

function tableColumns(db: Database.Database, table: string): { name: string; pk: number; type: string }[] {
  return db.prepare(`select name, pk, type from pragma_table_info(?)`).all(table) as { name: string; pk: number; type: string }[];
}

function insertStatement(db: Database.Database, table: string, columns: string[]) {
  return db.prepare(`insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map((c) => `@${c}`).join(', ')})`);
}

/**
 * `length` random bytes whose first four rise with i (spread over the whole range, so values still
 * look uniform): rows then arrive in index order and the unique indexes are appended to, not split.
 * With `positive`, the first byte is 01..7f: mailca's serial form.
 */
function risingRandomHex(random: Buffer, at: number, length: number, i: number, total: number, positive: boolean): string {
  const b = Buffer.from(random.subarray(at, at + length));
  const lo = positive ? 0x01000000 : 0;
  const span = (positive ? 0x7fffffff : 0xffffffff) - lo;
  b.writeUInt32BE(lo + Math.floor((i / total) * span), 0);
  return b.toString('hex');
}

export function seedSqlite(
  sqliteFile: string,
  templates: { activeSerial: string; revokedSerial: string },
  plan: { active: number; revoked: number; keep?: number; certificatesPerUser?: number },
): SeedResult {
  const t0 = performance.now();
  const notes: string[] = [];
  const db = new Database(sqliteFile);
  // One big transaction on a database nobody else has open: no journal needed; mailca switches
  // it back to WAL when it opens it.
  db.pragma('journal_mode = DELETE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  db.pragma('foreign_keys = ON');
  try {
    const certColumns = tableColumns(db, 'certificates').map((c) => c.name);
    const userColumnInfo = tableColumns(db, 'users');
    const userColumns = userColumnInfo.filter((c) => !(c.pk && /int/i.test(c.type))).map((c) => c.name);
    const templateRow = (serial: string) => {
      const row = db.prepare('select * from certificates where serial = ?').get(serial) as Row | undefined;
      if (!row) throw new Error(`template certificate ${serial} is not in the database`);
      return row;
    };
    const active = templateRow(templates.activeSerial);
    const revoked = templateRow(templates.revokedSerial);
    const templateUser = db.prepare('select * from users where id = ?').get(active.user_id) as Row;
    const unknown = certColumns.filter((c) => !['serial', 'ca_id', 'user_id', 'email', 'subject', 'fingerprint_sha256', 'spki_sha256', 'not_before', 'not_after', 'certificate_pem', 'device_label', 'created_at', 'revoked_at', 'revocation_reason', 'renewal_of', 'renewed_by', 'supersede_at'].includes(c));
    if (unknown.length) notes.push(`certificates columns copied from real rows: ${unknown.join(', ')}`);

    const identity = (r: Row): Identity => ({ serial: String(r.serial), fp: String(r.fingerprint_sha256), email: String(r.email) });
    const activeCloner = cloner(certColumns, active, identity(active), SET_PER_ROW);
    const revokedCloner = cloner(certColumns, revoked, identity(revoked), SET_PER_ROW);
    for (const c of new Set([...activeCloner.dependent, ...revokedCloner.dependent])) notes.push(`certificates.${c} rewritten per row (embeds serial/fingerprint/address)`);

    // Rows of tables this file does not know that refer to a template certificate.
    const dependentTables: { table: string; columns: string[]; templates: Map<'active' | 'revoked', Row[]> }[] = [];
    const pickColumns = (rows: Row[], columns: string[]) => rows.map((r) => pick(r, columns));
    const tables = (db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'").all() as { name: string }[]).map((r) => r.name);
    for (const table of tables.filter((t) => !KNOWN_TABLES.has(t))) {
      const info = tableColumns(db, table);
      const columns = info.filter((c) => !(c.pk && /int/i.test(c.type))).map((c) => c.name);
      const find = (t: Row) => {
        const where = info.map((c) => `"${c.name}" = @serial or "${c.name}" = @fp`).join(' or ');
        return db.prepare(`select * from "${table}" where ${where}`).all({ serial: t.serial, fp: t.fingerprint_sha256 }) as Row[];
      };
      const found = new Map<'active' | 'revoked', Row[]>([
        ['active', find(active)],
        ['revoked', find(revoked)],
      ]);
      if (found.get('active')!.length || found.get('revoked')!.length) {
        dependentTables.push({ table, columns, templates: new Map([...found].map(([k, rows]) => [k, pickColumns(rows, columns)])) });
        notes.push(`table ${table}: rows copied per seeded certificate`);
      } else if ((db.prepare(`select count(*) as n from "${table}"`).get() as { n: number }).n === 0) {
        notes.push(`table ${table} is empty after a real issue and revoke; left empty`);
      }
    }

    const insertUser = insertStatement(db, 'users', userColumns);
    const insertCert = insertStatement(db, 'certificates', certColumns);
    const dependentInserts = dependentTables.map((d) => ({
      insert: insertStatement(db, d.table, d.columns),
      copies: (['active', 'revoked'] as const).map((state) =>
        d.templates.get(state)!.map((t) => ({ row: t, cloner: cloner(d.columns, t, identity(state === 'active' ? active : revoked), new Set()) })),
      ),
    }));

    const perUser = plan.certificatesPerUser ?? 2;
    const total = plan.active + plan.revoked;
    const now = Date.now();
    const lifetime = Number(active.not_after) - Number(active.not_before);
    const kept: SeededCertificate[] = [];
    const keep = plan.keep ?? 0;
    const runId = randomBytes(4).toString('hex');

    // Secondary indexes are rebuilt once afterwards (a sort) instead of updated per row.
    const indexes = (db.prepare("select name, sql from sqlite_master where type = 'index' and tbl_name in ('certificates', 'users') and sql is not null").all() as { name: string; sql: string }[]);
    db.transaction(() => {
      for (const ix of indexes) db.exec(`drop index "${ix.name}"`);
      let userId = 0;
      const BATCH = 8192;
      for (let start = 0; start < total; start += BATCH) {
        const n = Math.min(BATCH, total - start);
        const random = randomBytes(n * 80);
        for (let k = 0; k < n; k++) {
          const i = start + k;
          const isRevoked = i >= plan.active;
          const template = isRevoked ? revoked : active;
          if (i % perUser === 0) {
            const user: Row = { ...templateUser };
            user.email = seedEmail(runId, Math.floor(i / perUser));
            userId = Number(insertUser.run(pick(user, userColumns)).lastInsertRowid);
          }
          const email = seedEmail(runId, Math.floor(i / perUser));
          const serial = risingRandomHex(random, k * 80, 16, i, total, true);
          const fp = risingRandomHex(random, k * 80 + 16, 32, i, total, false);
          const spki = random.subarray(k * 80 + 48, k * 80 + 80).toString('hex');
          // Expiries spread from 30 days ahead to a full lifetime ahead.
          const notAfter = now + 30 * 86_400_000 + Math.floor(((i * 7919) % total) / total * Math.max(0, lifetime - 30 * 86_400_000));
          const notBefore = notAfter - lifetime;
          const row: Row = { ...template, serial, user_id: userId, email, subject: `CN=${email},serialNumber=${serial}`, fingerprint_sha256: fp, spki_sha256: spki, not_before: notBefore, not_after: notAfter, created_at: notBefore + 300_000 };
          (isRevoked ? revokedCloner : activeCloner).clone(row, { serial, fp, email });
          insertCert.run(row);
          for (const d of dependentInserts) {
            for (const t of d.copies[isRevoked ? 1 : 0]!) {
              const copy: Row = { ...t.row };
              t.cloner.clone(copy, { serial, fp, email });
              d.insert.run(copy);
            }
          }
          if (!isRevoked && kept.length < keep) kept.push({ serial, fingerprintSha256: fp, email });
        }
      }
      const tIndex = performance.now();
      for (const ix of indexes) db.exec(ix.sql);
      if (process.env.MAILCA_BENCH_DEBUG) console.error(`seed: rows ${(tIndex - t0).toFixed(0)} ms, indexes ${(performance.now() - tIndex).toFixed(0)} ms`);
    })();
    return { ms: performance.now() - t0, active: plan.active, revoked: plan.revoked, kept, notes };
  } finally {
    db.close();
  }
}

/** Zero-padded so addresses, too, arrive in index order. */
const seedEmail = (runId: string, n: number) => `seed-${runId}-${String(n).padStart(8, '0')}@example.test`;

function pick(row: Row, columns: string[]): Row {
  const out: Row = {};
  for (const c of columns) out[c] = row[c] ?? null;
  return out;
}
