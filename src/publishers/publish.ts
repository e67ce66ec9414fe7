import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { decideEnforcement, nextEnforcementChange } from '../enrolment/enforcement-policy.ts';
import type { CaKeyring } from '../issuance/authority.ts';
import type { ActiveCertificateRow, CaRecord, CrlRecord, Store } from '../store/index.ts';
import { crlRefreshDue, ensureCrl } from './crls.ts';
import { RevokedSet } from './revoked-set.ts';
import { ALLOWLIST_FORMATS, CONSUMER_FORMATS, DOVECOT_FILES, EXIM_FILES, POSTFIX_FILES, type AllowlistEntry, type AllowlistFormat, type ConsumerFormat, type ListContext, type PublishedUser } from './formats/index.ts';
import { AtomicFileWriter, PublishedFile, publishSmallFile } from './published-file.ts';

/** Files in `<data dir>/publish/` besides the allow-lists and maps the formats name. */
export const PUBLISHED_FILES = {
  postfixAllowlist: POSTFIX_FILES.allowlist,
  eximAllowlist: EXIM_FILES.allowlist,
  jsonAllowlist: CONSUMER_FORMATS.json.allowlistFile,
  caBundle: 'ca.pem',
  crlPem: 'crl.pem',
  crlDer: 'crl.der',
  postfixEnforcement: POSTFIX_FILES.enforcement,
  eximEnforcement: EXIM_FILES.enforcement,
  postfixSenderLogins: POSTFIX_FILES.senderLogins,
  eximSenderLogins: EXIM_FILES.senderLogins,
  dovecotAllowlist: DOVECOT_FILES.allowlist,
  dovecotEnforcement: DOVECOT_FILES.enforcement,
  /** The CA bundle followed by every CRL: Dovecot's ssl_ca (it reads the CRLs from there, ssl_require_crl). */
  caCrlBundle: 'ca-crl.pem',
} as const;

const PEM_TYPE = 'application/x-pem-file';
const CRL_FILES = new Set<string>([PUBLISHED_FILES.crlPem, PUBLISHED_FILES.crlDer, PUBLISHED_FILES.caCrlBundle]);

export interface PublisherDeps {
  store: Store;
  keyring: CaKeyring;
  clock: Clock;
  log: Logger;
  /** `<data dir>/publish` */
  dir: string;
  crlLifetimeMs: number;
  /** Where users enrol; named in the enforcement maps' refusal message. */
  portalUrl: string;
  /** Publishes start at least this far apart, so a burst of changes shares one (default 0). */
  minIntervalMs?: number;
  /** CRLs are re-signed at most this often for revocations alone (default 0: with every publish). */
  crlMinIntervalMs?: number;
}

export interface PublishResult {
  at: Date;
  activeCertificates: number;
  crls: CrlRecord[];
}

export function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) [^-]+-----/g, '').replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(body, 'base64'));
}

/**
 * The allow-lists are kept in 4,096 buckets by the first three hex digits of the certificate
 * fingerprint. A change re-renders only its bucket; the rest of the new file is copied from the
 * previous version, so a publish costs one bucket's query plus a file copy, whatever the CA's size.
 */
const BUCKET_COUNT = 4096;
const bucketOf = (fingerprint: string): number => parseInt(fingerprint.slice(0, 3), 16);
const bucketStart = (b: number): string | undefined => (b < BUCKET_COUNT ? b.toString(16).padStart(3, '0') : undefined);
/** More changes than this since the last publish: re-render everything rather than read them all. */
const FEED_BATCH = 5_000;
const PAGE_ROWS = 5_000;

interface BucketSlot {
  offset: number;
  length: number;
  hash: Buffer;
  entries: number;
}

/** Where each bucket of a published list sits, so the next publish can copy the unchanged ones. */
interface ListLayout {
  file: PublishedFile;
  buckets: (BucketSlot | undefined)[];
}

/**
 * One list being assembled: new buckets rendered, unchanged ones copied from the previous version.
 * The new file is planned as a list of pieces (bytes, or a range of the previous version; adjacent
 * ranges merge) and written when enough new bytes have piled up, and at the end.
 */
class ListAssembler {
  readonly buckets: (BucketSlot | undefined)[] = new Array<BucketSlot | undefined>(BUCKET_COUNT);
  readonly #hashes: Buffer[] = [];
  #position = 0;
  #anyEntries = false;
  #pieces: ({ bytes: Buffer } | { offset: number; length: number })[] = [];
  #pendingBytes = 0;
  readonly #separator: Buffer;

  constructor(
    readonly format: ConsumerFormat,
    private readonly writer: AtomicFileWriter,
    private readonly previous: ListLayout | undefined,
  ) {
    this.#separator = Buffer.from(format.separator, 'utf8');
    const header = Buffer.from(format.header(), 'utf8');
    this.#hashes.push(createHash('sha256').update(header).digest());
    this.#bytes(header);
  }

  /** A bucket rendered anew. */
  async rendered(b: number, entries: readonly AllowlistEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const bytes = Buffer.from(entries.map((e) => this.format.renderEntry(e)).join(this.format.separator), 'utf8');
    if (this.#anyEntries) this.#bytes(this.#separator);
    this.#anyEntries = true;
    const hash = createHash('sha256').update(bytes).digest();
    this.buckets[b] = { offset: this.#position, length: bytes.length, hash, entries: entries.length };
    this.#hashes.push(hash);
    this.#bytes(bytes);
    if (this.#pendingBytes >= 4 << 20) await this.#writePieces();
  }

  /** A bucket that did not change: copied from the previous version. */
  unchanged(b: number): void {
    const old = this.previous?.buckets[b];
    if (!old) return;
    const sep = this.#anyEntries ? this.#separator.length : 0;
    const last = this.#pieces[this.#pieces.length - 1];
    if (last && 'offset' in last && last.offset + last.length + sep === old.offset) {
      // Adjacent in the previous version too, with the same separator between: extend the range.
      last.length += sep + old.length;
      this.#position += sep;
    } else {
      if (sep > 0) this.#bytes(this.#separator);
      this.#pieces.push({ offset: old.offset, length: old.length });
    }
    this.#anyEntries = true;
    this.buckets[b] = { ...old, offset: this.#position };
    this.#position += old.length;
    this.#hashes.push(old.hash);
  }

  async finish(ctx: ListContext): Promise<{ etag: string; entries: number }> {
    const footer = Buffer.from(this.format.footer(ctx), 'utf8');
    this.#hashes.push(createHash('sha256').update(footer).digest());
    this.#bytes(footer);
    await this.#writePieces();
    const entries = this.buckets.reduce((n, s) => n + (s?.entries ?? 0), 0);
    // The ETag hashes the pieces' hashes: a function of the content, computed without re-reading it.
    return { etag: `"${createHash('sha256').update(Buffer.concat(this.#hashes)).digest('base64url')}"`, entries };
  }

  #bytes(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#pieces.push({ bytes });
    this.#pendingBytes += bytes.length;
    this.#position += bytes.length;
  }

  async #writePieces(): Promise<void> {
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#pendingBytes = 0;
    for (const p of pieces) {
      if ('bytes' in p) {
        await this.writer.write(p.bytes);
        continue;
      }
      if (!this.previous) throw new Error('a copy from no previous version');
      for (let done = 0; done < p.length; ) {
        const n = Math.min(4 << 20, p.length - done);
        const buf = Buffer.allocUnsafe(n);
        await this.previous.file.read(p.offset + done, n, buf);
        await this.writer.write(buf);
        done += n;
      }
    }
  }
}

/** Reads the active certificates of a run of consecutive buckets in fingerprint order, a page at a time. */
class ActiveRows {
  #buffer: ActiveCertificateRow[] = [];
  #after: string | undefined;
  #done = false;

  constructor(
    private readonly store: Store,
    private readonly now: Date,
    private readonly from: string,
    private readonly to: string | undefined,
  ) {}

  async bucket(b: number): Promise<ActiveCertificateRow[]> {
    while (!this.#done && (this.#buffer.length === 0 || bucketOf(this.#buffer[this.#buffer.length - 1]!.fingerprintSha256) <= b)) {
      const page = await this.store.certificates.listActiveInRange(this.now, { from: this.from, to: this.to, after: this.#after, limit: PAGE_ROWS });
      for (const r of page) this.#buffer.push(r);
      if (page.length > 0) this.#after = page[page.length - 1]!.fingerprintSha256;
      if (page.length < PAGE_ROWS) this.#done = true;
    }
    let n = 0;
    while (n < this.#buffer.length && bucketOf(this.#buffer[n]!.fingerprintSha256) === b) n++;
    return this.#buffer.splice(0, n);
  }
}

interface UserState extends PublishedUser {
  userId: number;
}

const sameUser = (a: UserState | undefined, b: UserState | undefined): boolean =>
  a?.email === b?.email &&
  a?.enforcement.state === b?.enforcement.state &&
  a?.enforcement.enforcedFrom?.getTime() === b?.enforcement.enforcedFrom?.getTime() &&
  a?.senders.join('\n') === b?.senders.join('\n');

/**
 * Keeps `<data dir>/publish/` and the lists served over HTTP in step with the database. Publishing
 * is coalesced (changes made while a publish runs are all taken by the next one) and incremental:
 * each publish reads the change feed since the previous one and re-renders only what it names.
 */
export class Publisher {
  /** Emits 'published' after each publish, 'failed' when one fails. */
  readonly events = new EventEmitter().setMaxListeners(0);
  #lastSeq: number | undefined;
  #lastAt: Date | undefined;
  readonly #layouts = new Map<AllowlistFormat, ListLayout>();
  readonly #files = new Map<string, PublishedFile>();
  readonly #users = new Map<number, UserState>();
  #sortedUsers: UserState[] = [];
  #nextEnforcementAt: Date | undefined;
  #trusted: CaRecord[] = [];
  readonly #crls = new Map<number, CrlRecord>();
  #activeCertificates = 0;
  #requested = false;
  readonly #revoked = new RevokedSet();
  /** CAs whose CRL waits to be re-signed. */
  readonly #crlPending = new Set<number>();
  #lastCrlAt = 0;
  #crlWanted = false;
  #lastStarted = 0;
  #loop: Promise<void> | undefined;
  #waiting: { resolve(r: PublishResult): void; reject(e: unknown): void }[] = [];
  readonly #changeWaiters = new Set<{ name: string; etag: string; wake(): void }>();

  constructor(private readonly deps: PublisherDeps) {}

  /** Publishes what changed since the last publish; resolves when a publish that started after this call is done. */
  publish(): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#requested = true;
      this.#loop ??= this.#run();
    });
  }

  /** Asks for a publish without waiting for it; a failure is logged and reported as 'failed'. */
  notify(): void {
    this.publish().catch((e: unknown) => {
      this.deps.log.error({ err: e }, 'publishing failed; retrying shortly');
      this.events.emit('failed');
    });
  }

  /** Waits for a running publish, then lets go of the published versions it holds open. */
  async close(): Promise<void> {
    await this.settled().catch(() => undefined);
    for (const f of this.#files.values()) f.retire();
    this.#files.clear();
    this.#layouts.clear();
    this.#lastSeq = undefined;
  }

  /** Resolves once no publish is running or asked for. */
  async settled(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#requested) {
      const wait = this.#lastStarted + (this.deps.minIntervalMs ?? 0) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.#lastStarted = Date.now();
      this.#requested = false;
      const waiting = this.#waiting;
      this.#waiting = [];
      try {
        const result = await this.#publishOnce();
        for (const w of waiting) w.resolve(result);
      } catch (e) {
        for (const w of waiting) w.reject(e);
      }
    }
    this.#loop = undefined;
  }

  /**
   * Follows changes made by other processes and instances: a PostgreSQL notification, or (SQLite,
   * and as a fallback) a look at the change feed every `pollMs`. Returns a function that stops it.
   */
  async follow(opts: { pollMs: number }): Promise<() => Promise<void>> {
    const { store, log } = this.deps;
    const check = async () => {
      if (this.#lastSeq !== undefined && !this.#loop && (await store.changes.latest()) > this.#lastSeq) this.notify();
    };
    const timer = setInterval(() => void check().catch((e: unknown) => log.warn({ err: e }, 'reading the change feed failed')), opts.pollMs);
    timer.unref();
    const unlisten = await store.listenForChanges(
      () => this.notify(),
      (e) => log.warn({ err: e }, 'change notifications failed; following the change feed by polling'),
    );
    return async () => {
      clearInterval(timer);
      await unlisten();
    };
  }

  /** The current version of a published file (publishing first if nothing was published yet). */
  async file(name: string): Promise<PublishedFile> {
    // A reader sees at least every change this instance committed before it asked.
    if (this.#crlPending.size > 0 && CRL_FILES.has(name)) {
      this.#crlWanted = true;
      await this.publish();
    } else if (this.#lastSeq === undefined || this.#requested) await this.publish();
    else if (this.#loop) await this.settled();
    const f = this.#files.get(name);
    if (!f) throw new Error(`${name} is not a published file`);
    return f;
  }

  /** Resolves with the file once its ETag differs from `etag`, or undefined after `ms` or when `signal` aborts. */
  waitForChange(name: string, etag: string, ms: number, signal: AbortSignal): Promise<PublishedFile | undefined> {
    return new Promise((resolve) => {
      const waiter = { name, etag, wake: () => done(this.#files.get(name)) };
      const timer = setTimeout(() => done(undefined), ms);
      const onAbort = () => done(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (f: PublishedFile | undefined) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#changeWaiters.delete(waiter);
        resolve(f);
      };
      this.#changeWaiters.add(waiter);
    });
  }

  /** The CAs the bundle and CRL output hold, as of the last publish. */
  async trustedCas(): Promise<CaRecord[]> {
    if (this.#lastSeq === undefined) await this.publish();
    return this.#trusted;
  }

  /** The published CRL of every trusted CA (never signs: the publisher and the scheduler do). */
  async currentCrls(): Promise<CrlRecord[]> {
    if (this.#crlPending.size > 0) {
      this.#crlWanted = true;
      await this.publish();
    }
    const cas = await this.trustedCas();
    return cas.map((ca) => this.#crls.get(ca.id)).filter((c): c is CrlRecord => c !== undefined);
  }

  get activeCertificates(): number {
    return this.#activeCertificates;
  }

  /** When published state next changes by time alone: a validity boundary, a CRL refresh, or a scheduled enforcement. */
  async nextDue(): Promise<Date | undefined> {
    if (this.#lastSeq === undefined) await this.publish();
    const times: number[] = [];
    const boundary = await this.deps.store.certificates.nextValidityBoundary(this.deps.clock.now());
    if (boundary) times.push(boundary.getTime());
    for (const crl of this.#crls.values()) times.push(crlRefreshDue(crl, this.deps.crlLifetimeMs).getTime());
    if (this.#nextEnforcementAt) times.push(this.#nextEnforcementAt.getTime());
    return times.length ? new Date(Math.min(...times)) : undefined;
  }

  async #publishOnce(): Promise<PublishResult> {
    const { store, clock } = this.deps;
    const now = clock.now();
    let full = this.#lastSeq === undefined;
    let seq = this.#lastSeq ?? 0;
    const serials: string[] = [];
    const touchedUsers = new Set<number>();
    if (full) {
      // Read before the state: a change committed meanwhile is applied again next time (harmless).
      seq = await store.changes.latest();
    } else {
      const changes = await store.changes.since(seq, FEED_BATCH);
      // Behind the pruned part of the feed, or more changes than are worth reading one by one.
      if (changes.length === FEED_BATCH || (changes.length > 0 && changes[0]!.seq > seq + 1 && (await store.changes.oldest()) > seq + 1)) {
        full = true;
        seq = await store.changes.latest();
      } else {
        for (const c of changes) {
          if (c.kind === 'certificate') serials.push(c.key);
          else if (c.kind === 'user') touchedUsers.add(Number(c.key));
          else full = true;
        }
        seq = changes.at(-1)?.seq ?? seq;
      }
    }

    const dirty = new Set<number>();
    const crlDirty = this.#crlPending;
    let trustedDirty = full;
    if (full) {
      this.#revoked.reload(await store.certificates.listRevokedForCrl(now), seq);
    } else {
      const revokedSerials: string[] = [];
      for (const t of await store.certificates.touchedBySerials(serials)) {
        dirty.add(bucketOf(t.fingerprintSha256));
        if (t.revoked) {
          crlDirty.add(t.caId);
          revokedSerials.push(t.serial);
        }
        touchedUsers.add(t.userId);
      }
      if (revokedSerials.length > 0) this.#revoked.apply(await store.certificates.listRevokedForCrl(now, revokedSerials), seq);
      const byTime = await store.certificates.validityChangesBetween(this.#lastAt ?? now, now);
      for (const fp of byTime.fingerprints) dirty.add(bucketOf(fp));
      for (const id of byTime.crlCaIds) crlDirty.add(id);
      const activeCa = this.#trusted.find((ca) => ca.status === 'active')?.id;
      if ([...crlDirty].some((id) => id !== activeCa) || (byTime.fingerprints.length > 0 && this.#trusted.length > 1)) trustedDirty = true;
    }

    // Users: their migration state and senders go into the lists and the per-user maps.
    const allUsers = full || (this.#nextEnforcementAt !== undefined && this.#nextEnforcementAt.getTime() <= now.getTime());
    const changedUsers = await this.#refreshUsers(now, allUsers ? undefined : [...touchedUsers]);
    if (!full && changedUsers.length > 0) {
      for (const fp of await store.certificates.fingerprintsForUsers(changedUsers, now)) dirty.add(bucketOf(fp));
    }
    const usersChanged = allUsers || changedUsers.length > 0;

    const published: PublishedFile[] = [];
    if (full || dirty.size > 0 || usersChanged) published.push(...(await this.#publishLists(now, full ? undefined : dirty)));
    if (usersChanged) published.push(...(await this.#publishUserMaps()));
    const due = [...this.#crls.values()].some((crl) => crlRefreshDue(crl, this.deps.crlLifetimeMs).getTime() <= now.getTime());
    // Re-signing a large CRL is the costliest step: a server does it at most once a second (the
    // lists, which MTAs decide on, follow every publish); a reader of the CRL files waits for it.
    const crlWait = this.#lastCrlAt + (this.deps.crlMinIntervalMs ?? 0) - Date.now();
    const crlNow = full || trustedDirty || due || this.#crlWanted || crlWait <= 0;
    if (crlNow && (full || trustedDirty || crlDirty.size > 0 || due)) {
      published.push(...(await this.#publishCasAndCrls(trustedDirty, crlDirty, full || due)));
      crlDirty.clear();
      this.#lastCrlAt = Date.now();
    } else if (crlDirty.size > 0) {
      setTimeout(() => this.notify(), Math.max(crlWait, 0)).unref();
    }
    this.#crlWanted = false;

    for (const f of published) {
      this.#files.get(f.name)?.retire();
      this.#files.set(f.name, f);
    }
    this.#lastSeq = seq;
    this.#lastAt = now;
    for (const w of this.#changeWaiters) if (this.#files.get(w.name)?.etag !== w.etag) w.wake();
    this.deps.log.debug({ full, buckets: dirty.size, users: changedUsers.length, files: published.map((f) => f.name) }, 'published');
    this.events.emit('published');
    return { at: now, activeCertificates: this.#activeCertificates, crls: [...this.#crls.values()] };
  }

  /** Re-reads the given users (all when undefined); returns the ids whose published facts changed. */
  async #refreshUsers(now: Date, userIds: number[] | undefined): Promise<number[]> {
    const { store } = this.deps;
    if (userIds && userIds.length === 0) return [];
    const [facts, policy] = await Promise.all([store.enforcement.facts(now, userIds), store.enforcement.policy()]);
    const senders = await store.aliases.sendersForUsers(userIds ? facts.map((f) => f.userId) : undefined);
    const fresh = new Map<number, UserState>();
    for (const f of facts) {
      // The owner first, then the sender aliases.
      fresh.set(f.userId, { userId: f.userId, email: f.email, enforcement: decideEnforcement(f, policy, now), senders: senders.get(f.userId) ?? [f.email] });
    }
    const ids = userIds ?? [...new Set([...this.#users.keys(), ...fresh.keys()])];
    const changed: number[] = [];
    for (const id of ids) {
      const next = fresh.get(id);
      if (!sameUser(this.#users.get(id), next)) changed.push(id);
      if (next) this.#users.set(id, next);
      else this.#users.delete(id);
    }
    if (changed.length > 0 || !userIds) {
      this.#sortedUsers = [...this.#users.values()].sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
      this.#nextEnforcementAt = nextEnforcementChange(
        this.#sortedUsers.map((u) => u.enforcement),
        now,
      );
    }
    return changed;
  }

  #listContext(): ListContext {
    return { users: this.#sortedUsers, portalUrl: this.deps.portalUrl };
  }

  #entry(row: ActiveCertificateRow): AllowlistEntry {
    const user = this.#users.get(row.userId);
    return {
      serial: row.serial,
      fingerprintSha256: row.fingerprintSha256,
      spkiSha256: row.spkiSha256,
      owner: row.email,
      subject: row.subject,
      notAfter: row.notAfter,
      senders: user?.senders ?? [row.email],
      migration: user?.enforcement.state ?? 'grace',
    };
  }

  /** Writes every allow-list: the buckets in `dirty` (all when undefined) re-rendered, the rest copied. */
  async #publishLists(now: Date, dirty: Set<number> | undefined): Promise<PublishedFile[]> {
    const formats = ALLOWLIST_FORMATS.map((name) => ({ name, format: CONSUMER_FORMATS[name] as ConsumerFormat }));
    const writers: AtomicFileWriter[] = [];
    try {
      for (const f of formats) writers.push(await AtomicFileWriter.create(path.join(this.deps.dir, f.format.allowlistFile)));
      const lists = formats.map((f, i) => new ListAssembler(f.format, writers[i]!, dirty ? this.#layouts.get(f.name) : undefined));
      let rows: ActiveRows | undefined;
      for (let b = 0; b < BUCKET_COUNT; b++) {
        if (dirty && !dirty.has(b)) {
          rows = undefined;
          for (const l of lists) l.unchanged(b);
          continue;
        }
        if (!rows) {
          // A run of consecutive buckets to render is read as one range.
          let end = b + 1;
          while (end < BUCKET_COUNT && (!dirty || dirty.has(end))) end++;
          rows = new ActiveRows(this.deps.store, now, bucketStart(b)!, bucketStart(end));
        }
        const entries = (await rows.bucket(b)).map((r) => this.#entry(r));
        for (const l of lists) await l.rendered(b, entries);
      }
      const ctx = this.#listContext();
      const out: PublishedFile[] = [];
      for (const [i, l] of lists.entries()) {
        const { etag, entries } = await l.finish(ctx);
        const size = writers[i]!.size;
        const handle = await writers[i]!.commit();
        const file = new PublishedFile(l.format.allowlistFile, l.format.contentType, etag, size, { handle });
        this.#layouts.set(formats[i]!.name, { file, buckets: l.buckets });
        this.#activeCertificates = entries;
        out.push(file);
      }
      return out;
    } catch (e) {
      for (const w of writers) await w.abort();
      // The layouts may no longer match what was written: start over with a full render.
      this.#lastSeq = undefined;
      throw e;
    }
  }

  async #publishUserMaps(): Promise<PublishedFile[]> {
    const ctx = this.#listContext();
    const out: PublishedFile[] = [];
    for (const name of ALLOWLIST_FORMATS) {
      const f: ConsumerFormat = CONSUMER_FORMATS[name];
      for (const map of [f.enforcement, f.senderLogins]) {
        if (map) out.push(await publishSmallFile(this.deps.dir, map.file, 'text/plain; charset=utf-8', map.render(ctx)));
      }
    }
    return out;
  }

  /**
   * The trust bundle and the CRLs: the issuing CA and every other CA not retired that still has a
   * valid certificate (so MTAs keep accepting old certificates while users renew).
   */
  async #publishCasAndCrls(trustedDirty: boolean, crlDirty: Set<number>, checkAll: boolean): Promise<PublishedFile[]> {
    const { store, clock } = this.deps;
    if (trustedDirty) {
      const usage = await store.certificates.usageByCa(clock.now());
      this.#trusted = (await store.cas.listTrusted()).filter((ca) => ca.status === 'active' || (usage.get(ca.id)?.active ?? 0) > 0);
    }
    let crlsChanged = trustedDirty;
    for (const ca of this.#trusted) {
      if (!checkAll && !crlDirty.has(ca.id) && this.#crls.has(ca.id)) continue;
      const crl = await ensureCrl(this.deps, ca, { lifetimeMs: this.deps.crlLifetimeMs }, this.#revoked);
      if (this.#crls.get(ca.id)?.crlNumber !== crl.crlNumber) crlsChanged = true;
      this.#crls.set(ca.id, crl);
    }
    for (const id of this.#crls.keys()) if (!this.#trusted.some((ca) => ca.id === id)) this.#crls.delete(id);
    const out: PublishedFile[] = [];
    const bundle = (): string => this.#trusted.map((ca) => new X509Certificate(ca.certificatePem).toString()).join('');
    const crlsPem = (): string =>
      this.#trusted
        .map((ca) => this.#crls.get(ca.id))
        .filter((c): c is CrlRecord => c !== undefined)
        .map((c) => c.crlPem)
        .join('');
    if (trustedDirty || !this.#files.has(PUBLISHED_FILES.caBundle)) {
      out.push(await publishSmallFile(this.deps.dir, PUBLISHED_FILES.caBundle, PEM_TYPE, bundle()));
    }
    if (crlsChanged || !this.#files.has(PUBLISHED_FILES.crlPem)) {
      out.push(await publishSmallFile(this.deps.dir, PUBLISHED_FILES.crlPem, PEM_TYPE, crlsPem()));
      const activeId = this.#trusted.find((ca) => ca.status === 'active')?.id;
      const activeCrl = activeId === undefined ? undefined : this.#crls.get(activeId);
      if (activeCrl) out.push(await publishSmallFile(this.deps.dir, PUBLISHED_FILES.crlDer, 'application/pkix-crl', pemToDer(activeCrl.crlPem)));
    }
    if (trustedDirty || crlsChanged || !this.#files.has(PUBLISHED_FILES.caCrlBundle)) {
      out.push(await publishSmallFile(this.deps.dir, PUBLISHED_FILES.caCrlBundle, PEM_TYPE, bundle() + crlsPem()));
    }
    return out;
  }
}
