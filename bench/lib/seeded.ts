// Bench-only: an SQLite CA with many certificates seeded (bench/lib/seed.ts) before mailca starts on it.

import type { BenchContext } from './context.ts';
import { createBenchDatabase, type BenchDatabase } from './database.ts';
import { prepareCa, type PreparedCa } from './instance.ts';
import { seedSqlite, type SeedResult } from './seed.ts';

export interface SeededCa {
  db: BenchDatabase;
  ca: PreparedCa;
  /** Seeding so far (cumulative counts; `kept` from the latest call). */
  seeded: { active: number; revoked: number; notes: string[] };
  /** Seeds more rows (mailca must not be running on the database). */
  seed(more: { active: number; revoked?: number; keep?: number }): SeedResult;
  drop(): Promise<void>;
}

export async function createSeededCa(ctx: BenchContext, opts: { users: number }): Promise<SeededCa> {
  const db = await createBenchDatabase('sqlite');
  try {
    const ca = await prepareCa(db, { users: opts.users, templates: true });
    const seeded = { active: 0, revoked: 0, notes: [] as string[] };
    return {
      db,
      ca,
      seeded,
      seed(more) {
        const r = seedSqlite(db.sqliteFile, ca.templates!, { active: more.active, revoked: more.revoked ?? 0, keep: more.keep });
        seeded.active += r.active;
        seeded.revoked += r.revoked;
        for (const n of r.notes) if (!seeded.notes.includes(n)) seeded.notes.push(n);
        ctx.progress(`seeded ${r.active} active + ${r.revoked} revoked certificates in ${(r.ms / 1000).toFixed(1)} s (now ${seeded.active} + ${seeded.revoked})`);
        return r;
      },
      drop: () => db.drop(),
    };
  } catch (e) {
    await db.drop();
    throw e;
  }
}
