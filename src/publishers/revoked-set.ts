import type { Store, RevokedForCrl } from '../store/index.ts';
import { TimeSlicer } from '../time-slice.ts';
import { crlEntryOf } from './crls.ts';

interface Entry {
  der: Uint8Array;
  notAfter: number;
}

/** Changes read at once when catching up; more means reading every revoked row again. */
const CATCH_UP_BATCH = 5_000;

/**
 * Every CA's revoked, unexpired certificates, kept in memory in serial order, so a CRL is rebuilt
 * from what changed rather than from a read of every revoked row. Before a CRL is signed it catches
 * up with the change feed (under the CRL lock), so it never signs a CRL that misses a revocation
 * another instance already committed.
 */
export class RevokedSet {
  readonly #byCa = new Map<number, { serials: string[]; entries: Map<string, Entry> }>();
  #seq = 0;

  /** Replaces the whole set with `rows`, read at feed position `seq`. */
  reload(rows: readonly RevokedForCrl[], seq: number): void {
    this.#byCa.clear();
    for (const r of rows) {
      const ca = this.#ca(r.caId);
      if (!ca.entries.has(r.serial)) ca.serials.push(r.serial);
      ca.entries.set(r.serial, { der: crlEntryOf(r.entry), notAfter: r.notAfter.getTime() });
    }
    // One sort instead of an ordered insert per row (quadratic at 100k revoked).
    for (const ca of this.#byCa.values()) ca.serials.sort();
    this.#seq = seq;
  }

  /** Adds (or replaces) revoked certificates; `seq` is the feed position they reflect. */
  apply(rows: readonly RevokedForCrl[], seq: number): void {
    const added = new Map<number, string[]>();
    for (const r of rows) {
      const ca = this.#ca(r.caId);
      if (!ca.entries.has(r.serial)) {
        let serials = added.get(r.caId);
        if (!serials) added.set(r.caId, (serials = []));
        serials.push(r.serial);
      }
      ca.entries.set(r.serial, { der: crlEntryOf(r.entry), notAfter: r.notAfter.getTime() });
    }
    // One merge per CA keeps the serials ordered: an insert per row would move the whole array each time
    // (a batch of revocations at 100k revoked stalled for tens of ms).
    for (const [caId, serials] of added) {
      const ca = this.#ca(caId);
      ca.serials = mergeSorted(ca.serials, serials.sort());
    }
    this.#seq = Math.max(this.#seq, seq);
  }

  /** The CA's CRL entries at `now` in serial order, after catching up with the change feed through `store`. */
  async entries(store: Store, caId: number, now: Date): Promise<Uint8Array[]> {
    const changes = await store.changes.since(this.#seq, CATCH_UP_BATCH);
    if (changes.length === CATCH_UP_BATCH) {
      this.reload(await store.certificates.listRevokedForCrl(now), await store.changes.latest());
    } else if (changes.length > 0) {
      const serials = changes.filter((c) => c.kind === 'certificate').map((c) => c.key);
      this.apply(serials.length ? await store.certificates.listRevokedForCrl(now, serials) : [], changes[changes.length - 1]!.seq);
    }
    const ca = this.#byCa.get(caId);
    if (!ca) return [];
    const out: Uint8Array[] = [];
    const t = now.getTime();
    const slicer = new TimeSlicer();
    // apply() and reload() replace the array rather than change it, so this one stays as it is across the yields.
    for (const serial of ca.serials) {
      const e = ca.entries.get(serial)!;
      if (e.notAfter > t) out.push(e.der);
      if (slicer.due()) await slicer.yield();
    }
    return out;
  }

  #ca(caId: number): { serials: string[]; entries: Map<string, Entry> } {
    let ca = this.#byCa.get(caId);
    if (!ca) this.#byCa.set(caId, (ca = { serials: [], entries: new Map() }));
    return ca;
  }
}

/** The union of two ascending lists of distinct serials (all serials have one length, so string order is serial order). */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out = new Array<string>(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) out[n++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[n++] = a[i++]!;
  while (j < b.length) out[n++] = b[j++]!;
  return out;
}
