import type { EnforcementState, UserEnforcement } from '../enrolment/enforcement-policy.ts';
import type { PublishedUser } from './formats/index.ts';

const STATES: readonly EnforcementState[] = ['grace', 'enforced'];
const BASES: readonly UserEnforcement['basis'][] = ['override', 'user_schedule', 'after_first_enrolment', 'deadline', 'none'];

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What the lists say about every enabled user, in a compact form: a few typed arrays indexed by a
 * slot per user, the address, and the sender list only for users with aliases. Half a million
 * users take tens of MB instead of an object graph several times that size; `PublishedUser`
 * objects are made only while a per-user map is rendered.
 */
export class PublishedUsers {
  readonly #slotOf = new Map<number, number>();
  #emails: string[] = [];
  /** state index | basis index << 1 | enrolled << 4 */
  #codes = new Uint8Array(1024);
  /** enforcedFrom in ms, NaN for none. */
  #from = new Float64Array(1024);
  /** Only users whose senders are more than their own address. */
  readonly #aliases = new Map<number, readonly string[]>();
  readonly #free: number[] = [];
  /** Slots ordered by address. */
  #sorted: number[] = [];
  #sortedValid = true;
  /** Moves whenever a user's published facts change. */
  version = 0;

  get size(): number {
    return this.#slotOf.size;
  }

  /** Sets a user's facts; returns whether what the lists show of them changed. */
  set(userId: number, u: PublishedUser): boolean {
    let slot = this.#slotOf.get(userId);
    const isNew = slot === undefined;
    if (slot !== undefined && this.#same(slot, u)) {
      this.#write(slot, u);
      return false;
    }
    if (slot === undefined) {
      slot = this.#free.pop() ?? this.#emails.length;
      this.#grow(slot + 1);
      this.#slotOf.set(userId, slot);
    }
    const emailChanged = isNew || this.#emails[slot] !== u.email;
    if (emailChanged && !isNew) this.#unsort(slot);
    this.#write(slot, u);
    if (emailChanged) this.#insertSorted(slot);
    this.version++;
    return true;
  }

  delete(userId: number): boolean {
    const slot = this.#slotOf.get(userId);
    if (slot === undefined) return false;
    this.#unsort(slot);
    this.#slotOf.delete(userId);
    this.#aliases.delete(slot);
    this.#emails[slot] = '';
    this.#free.push(slot);
    this.version++;
    return true;
  }

  /** Drops every user (a full refresh follows). */
  clear(): void {
    this.#slotOf.clear();
    this.#aliases.clear();
    this.#emails = [];
    this.#free.length = 0;
    this.#sorted = [];
    this.#sortedValid = true;
    this.version++;
  }

  /**
   * Adds users in address order, as a full refresh reads them: appended, so the order is kept
   * without a sort (checked; an order the database sorted otherwise is sorted once at the end).
   */
  append(userId: number, u: PublishedUser): void {
    const slot = this.#emails.length;
    this.#grow(slot + 1);
    this.#slotOf.set(userId, slot);
    this.#write(slot, u);
    const last = this.#sorted[this.#sorted.length - 1];
    if (last !== undefined && !(this.#emails[last]! < u.email)) this.#sortedValid = false;
    this.#sorted.push(slot);
    this.version++;
  }

  ids(): IterableIterator<number> {
    return this.#slotOf.keys();
  }

  senders(userId: number): readonly string[] | undefined {
    const slot = this.#slotOf.get(userId);
    return slot === undefined ? undefined : (this.#aliases.get(slot) ?? [this.#emails[slot]!]);
  }

  state(userId: number): EnforcementState | undefined {
    const slot = this.#slotOf.get(userId);
    return slot === undefined ? undefined : STATES[this.#codes[slot]! & 1]!;
  }

  /** The earliest scheduled enforcement after `now` of a user still in grace. */
  nextEnforcementAt(now: Date): Date | undefined {
    let next = Infinity;
    for (const slot of this.#slotOf.values()) {
      const at = this.#from[slot]!;
      if ((this.#codes[slot]! & 1) === 0 && at > now.getTime() && at < next) next = at;
    }
    return next === Infinity ? undefined : new Date(next);
  }

  /** Every user ordered by address, each made as it is reached. */
  *sorted(): IterableIterator<PublishedUser> {
    if (!this.#sortedValid) {
      this.#sorted.sort((a, b) => byCodeUnits(this.#emails[a]!, this.#emails[b]!));
      this.#sortedValid = true;
    }
    for (const slot of this.#sorted) yield this.#user(slot);
  }

  #user(slot: number): PublishedUser {
    const email = this.#emails[slot]!;
    const code = this.#codes[slot]!;
    const from = this.#from[slot]!;
    return {
      email,
      enforcement: { email, state: STATES[code & 1]!, basis: BASES[(code >> 1) & 7]!, enforcedFrom: Number.isNaN(from) ? null : new Date(from), enrolled: (code & 16) !== 0 },
      senders: this.#aliases.get(slot) ?? [email],
    };
  }

  #same(slot: number, u: PublishedUser): boolean {
    const from = this.#from[slot]!;
    const senders = this.#aliases.get(slot) ?? [this.#emails[slot]!];
    return (
      this.#emails[slot] === u.email &&
      STATES[this.#codes[slot]! & 1] === u.enforcement.state &&
      (Number.isNaN(from) ? null : from) === (u.enforcement.enforcedFrom?.getTime() ?? null) &&
      senders.join('\n') === u.senders.join('\n')
    );
  }

  #write(slot: number, u: PublishedUser): void {
    const e = u.enforcement;
    this.#emails[slot] = u.email;
    this.#codes[slot] = STATES.indexOf(e.state) | (BASES.indexOf(e.basis) << 1) | (e.enrolled ? 16 : 0);
    this.#from[slot] = e.enforcedFrom?.getTime() ?? NaN;
    if (u.senders.length === 1 && u.senders[0] === u.email) this.#aliases.delete(slot);
    else this.#aliases.set(slot, [...u.senders]);
  }

  #grow(n: number): void {
    if (n <= this.#codes.length) return;
    const size = Math.max(n, this.#codes.length * 2);
    const codes = new Uint8Array(size);
    codes.set(this.#codes);
    const from = new Float64Array(size);
    from.set(this.#from);
    this.#codes = codes;
    this.#from = from;
  }

  #position(email: string): number {
    if (!this.#sortedValid) {
      this.#sorted.sort((a, b) => byCodeUnits(this.#emails[a]!, this.#emails[b]!));
      this.#sortedValid = true;
    }
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#emails[this.#sorted[mid]!]! < email) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #insertSorted(slot: number): void {
    this.#sorted.splice(this.#position(this.#emails[slot]!), 0, slot);
  }

  #unsort(slot: number): void {
    let i = this.#position(this.#emails[slot]!);
    while (i < this.#sorted.length && this.#sorted[i] !== slot) i++;
    if (i < this.#sorted.length) this.#sorted.splice(i, 1);
    else this.#sorted = this.#sorted.filter((s) => s !== slot);
  }
}
