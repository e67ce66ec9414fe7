import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { decideEnforcement } from '../enrolment/enforcement-policy.ts';
import type { CaKeyring } from '../issuance/authority.ts';
import type { ActiveCertificateRow, CaRecord, Store } from '../store/index.ts';
import { crlRefreshDue, ensureCrl, type CrlRecord } from './crls.ts';
import { RevokedSet } from './revoked-set.ts';
import { PublishedUsers } from './user-state.ts';
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

/** The DER of the first PEM block (base64 decoding skips the line breaks; no pass over the text first). */
export function pemToDer(pem: string): Uint8Array {
  const begin = pem.indexOf('-----BEGIN ');
  const bodyStart = begin < 0 ? -1 : pem.indexOf('-----', begin + 11);
  const end = pem.indexOf('-----END ', bodyStart);
  if (bodyStart < 0 || end < 0) throw new Error('not a PEM block');
  return new Uint8Array(Buffer.from(pem.slice(bodyStart + 5, end), 'base64'));
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
const PAGE_ROWS = 1_000;
/** Long polls woken per event-loop turn. */
const WAKE_BATCH = 25;
/** Users read per page by a full refresh. */
const USER_PAGE = 2_000;

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

  async finish(footerText: string): Promise<{ etag: string; entries: number }> {
    const footer = Buffer.from(footerText, 'utf8');
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

/**
 * Keeps `<data dir>/publish/` and the lists served over HTTP in step with the database. Publishing
 * is coalesced (changes made while a publish runs are all taken by the next one) and incremental:
 * each publish reads the change feed since the previous one and re-renders only what it names.
 */
/** What readers of published state (the HTTP tier) may ask the publisher: what was published, never to publish. */
export type PublishedReads = Pick<Publisher, 'file' | 'waitForChange' | 'trustedCas' | 'currentCrls'>;

/** The read side of a publisher, as an object that leads nowhere else (no store, keyring or publish). */
export function publishedReads(publisher: Publisher): PublishedReads {
  return Object.freeze({
    file: (name: string) => publisher.file(name),
    waitForChange: (name: string, etag: string, ms: number, signal: AbortSignal) => publisher.waitForChange(name, etag, ms, signal),
    trustedCas: () => publisher.trustedCas(),
    currentCrls: () => publisher.currentCrls(),
  });
}

export class Publisher {
  /** Emits 'published' after each publish, 'failed' when one fails. */
  readonly events = new EventEmitter().setMaxListeners(0);
  #lastSeq: number | undefined;
  #lastAt: Date | undefined;
  readonly #layouts = new Map<AllowlistFormat, ListLayout>();
  readonly #files = new Map<string, PublishedFile>();
  readonly #users = new PublishedUsers();
  readonly #footers = new Map<AllowlistFormat, { version: number; text: string }>();
  #nextEnforcementAt: Date | undefined;
  #trusted: CaRecord[] = [];
  readonly #crls = new Map<number, CrlRecord>();
  #activeCertificates = 0;
  #requested = false;
  readonly #revoked = new RevokedSet();
  /** CAs whose CRL waits to be re-signed. */
  readonly #crlPending = new Set<number>();
  #lastCrlAt = 0;
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
    // A reader sees at least every change this instance committed before it asked; a CRL is re-signed on
    // the publisher's own schedule (at most once a second on a server), never sooner because someone asked.
    if (this.#lastSeq === undefined || this.#requested) await this.publish();
    else if (this.#loop) await this.settled();
    const f = this.#files.get(name);
    if (!f) throw new Error(`${name} is not a published file`);
    return f;
  }

  /** Resolves with the file once its ETag differs from `etag`, or undefined after `ms` or when `signal` aborts. */
  waitForChange(name: string, etag: string, ms: number, signal: AbortSignal): Promise<PublishedFile | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const waiter = { name, etag, wake: () => done(this.#files.get(name)) };
      const timer = setTimeout(() => done(undefined), ms);
      const onAbort = () => done(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (f: PublishedFile | undefined) => {
        if (settled) return;
        settled = true;
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

  /**
   * The last signed CRL of every trusted CA. Never signs, and never makes the publisher sign sooner: a
   * revocation's CRL follows within the publisher's CRL interval (a second on a server) whoever asks.
   */
  async currentCrls(): Promise<CrlRecord[]> {
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
    // Long polls get the new lists now, not after a CRL re-sign (a second at 100k revoked).
    this.#install(published);
    const due = [...this.#crls.values()].some((crl) => crlRefreshDue(crl, this.deps.crlLifetimeMs).getTime() <= now.getTime());
    // Re-signing a large CRL is the costliest step: a server does it at most once a second (the
    // lists, which MTAs decide on, follow every publish).
    const crlWait = this.#lastCrlAt + (this.deps.crlMinIntervalMs ?? 0) - Date.now();
    const crlNow = full || trustedDirty || due || crlWait <= 0;
    if (crlNow && (full || trustedDirty || crlDirty.size > 0 || due)) {
      const signed = await this.#publishCasAndCrls(trustedDirty, crlDirty, full || due);
      this.#install(signed);
      published.push(...signed);
      crlDirty.clear();
      this.#lastCrlAt = Date.now();
    } else if (crlDirty.size > 0) {
      setTimeout(() => this.notify(), Math.max(crlWait, 0)).unref();
    }

    this.#lastSeq = seq;
    this.#lastAt = now;
    this.deps.log.debug({ full, buckets: dirty.size, users: changedUsers.length, files: published.map((f) => f.name) }, 'published');
    this.events.emit('published');
    return { at: now, activeCertificates: this.#activeCertificates, crls: [...this.#crls.values()] };
  }

  /** Makes these versions the ones readers get, and wakes the long polls they change. */
  #install(files: readonly PublishedFile[]): void {
    if (files.length === 0) return;
    for (const f of files) {
      this.#files.get(f.name)?.retire();
      this.#files.set(f.name, f);
    }
    this.#wakeChanged();
  }

  /**
   * Wakes the long polls whose file changed. Each sends a whole list, so they are woken a batch per
   * event-loop turn: 2,000 polls woken by one publish never all write in one tick, and other
   * requests are answered in between.
   */
  #wakeChanged(): void {
    const woken = [...this.#changeWaiters].filter((w) => this.#files.get(w.name)?.etag !== w.etag);
    for (const w of woken) this.#changeWaiters.delete(w);
    const batch = (from: number) => {
      for (const w of woken.slice(from, from + WAKE_BATCH)) w.wake();
      if (from + WAKE_BATCH < woken.length) setImmediate(() => batch(from + WAKE_BATCH));
    };
    batch(0);
  }

  /** Re-reads the given users (all when undefined); returns the ids whose published facts changed. */
  async #refreshUsers(now: Date, userIds: number[] | undefined): Promise<number[]> {
    const { store } = this.deps;
    if (userIds && userIds.length === 0) return [];
    const policy = await store.enforcement.policy();
    const users = this.#users;
    const changed: number[] = [];
    if (userIds) {
      const facts = await store.enforcement.facts(now, userIds);
      const senders = await store.aliases.sendersForUsers(facts.map((f) => f.userId));
      const seen = new Set<number>();
      for (const f of facts) {
        seen.add(f.userId);
        // The owner first, then the sender aliases.
        if (users.set(f.userId, { email: f.email, enforcement: decideEnforcement(f, policy, now), senders: senders.get(f.userId) ?? [f.email] })) changed.push(f.userId);
      }
      for (const id of userIds) if (!seen.has(id) && users.delete(id)) changed.push(id);
    } else {
      // Every user, a page at a time: the state is never held twice, nor as rows and objects.
      const firstLoad = users.size === 0;
      const seen = new Set<number>();
      let after: string | undefined;
      for (;;) {
        const page = await store.enforcement.factsPage(now, after, USER_PAGE);
        if (page.length === 0) break;
        const last = page[page.length - 1]!.email;
        const aliases = await store.aliases.aliasesForAddressRange(after, last);
        for (const f of page) {
          const u = { email: f.email, enforcement: decideEnforcement(f, policy, now), senders: [f.email, ...(aliases.get(f.userId) ?? [])] };
          if (firstLoad) users.append(f.userId, u);
          else {
            seen.add(f.userId);
            if (users.set(f.userId, u)) changed.push(f.userId);
          }
        }
        after = last;
        if (page.length < USER_PAGE) break;
      }
      if (!firstLoad) for (const id of [...users.ids()]) if (!seen.has(id) && users.delete(id)) changed.push(id);
    }
    if (changed.length > 0 || !userIds) this.#nextEnforcementAt = users.nextEnforcementAt(now);
    return changed;
  }

  #listContext(): ListContext {
    const users = this.#users;
    return { users: { [Symbol.iterator]: () => users.sorted() }, portalUrl: this.deps.portalUrl };
  }

  /** The list's footer, rendered again only when the users changed. */
  #footer(name: AllowlistFormat, format: ConsumerFormat): string {
    const cached = this.#footers.get(name);
    if (cached?.version === this.#users.version) return cached.text;
    const text = format.footer(this.#listContext());
    this.#footers.set(name, { version: this.#users.version, text });
    return text;
  }

  #entry(row: ActiveCertificateRow): AllowlistEntry {
    return {
      serial: row.serial,
      fingerprintSha256: row.fingerprintSha256,
      spkiSha256: row.spkiSha256,
      owner: row.email,
      subject: row.subject,
      notAfter: row.notAfter,
      senders: this.#users.senders(row.userId) ?? [row.email],
      migration: this.#users.state(row.userId) ?? 'grace',
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
      const out: PublishedFile[] = [];
      for (const [i, l] of lists.entries()) {
        const { etag, entries } = await l.finish(this.#footer(formats[i]!.name, l.format));
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
      if (activeCrl) out.push(await publishSmallFile(this.deps.dir, PUBLISHED_FILES.crlDer, 'application/pkix-crl', activeCrl.crlDer));
    }
    if (trustedDirty || crlsChanged || !this.#files.has(PUBLISHED_FILES.caCrlBundle)) {
      out.push(await publishSmallFile(this.deps.dir, PUBLISHED_FILES.caCrlBundle, PEM_TYPE, bundle() + crlsPem()));
    }
    return out;
  }
}
