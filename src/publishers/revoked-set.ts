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
      let ca = this.#byCa.get(r.caId);
      if (!ca) this.#byCa.set(r.caId, (ca = { serials: [], entries: new Map() }));
      if (!ca.entries.has(r.serial)) ca.serials.push(r.serial);
      ca.entries.set(r.serial, { der: crlEntryOf(r.entry), notAfter: r.notAfter.getTime() });
    }
    // One sort instead of an ordered insert per row (quadratic at 100k revoked).
    for (const ca of this.#byCa.values()) ca.serials.sort();
    this.#seq = seq;
  }

  /** Adds (or replaces) revoked certificates; `seq` is the feed position they reflect. */
  apply(rows: readonly RevokedForCrl[], seq: number): void {
    for (const r of rows) this.#put(r);
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
    for (const serial of ca.serials.slice()) {
      const e = ca.entries.get(serial)!;
      if (e.notAfter > t) out.push(e.der);
      if (slicer.due()) await slicer.yield();
    }
    return out;
  }

  #put(r: RevokedForCrl): void {
    let ca = this.#byCa.get(r.caId);
    if (!ca) this.#byCa.set(r.caId, (ca = { serials: [], entries: new Map() }));
    if (!ca.entries.has(r.serial)) {
      // Binary search for the insertion point keeps the serials ordered (all serials have one length).
      let lo = 0;
      let hi = ca.serials.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ca.serials[mid]! < r.serial) lo = mid + 1;
        else hi = mid;
      }
      ca.serials.splice(lo, 0, r.serial);
    }
    ca.entries.set(r.serial, { der: crlEntryOf(r.entry), notAfter: r.notAfter.getTime() });
  }
}
