import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { CaKeyring } from '../issuance/authority.ts';
import type { Store } from '../store/index.ts';

/** Who does something, and from where; recorded in the audit log. */
export interface Actor {
  /** e.g. "user:alice@example.test", "token:backup-admin", "cli:root". */
  id: string;
  sourceIp: string | null;
}

export interface IssuancePolicy {
  certLifetimeDays: number;
  emailProtection: boolean;
  /** MAILCA_PUBLIC_URL: certificates name `<it>/crl/<CA id>.der` as their CRL distribution point. */
  crlBaseUrl?: string;
  /** Renewal opens this many days before expiry (or in the last third of a shorter lifetime). */
  renewalWindowDays: number;
  /** The predecessor stays on the lists this long after a renewal. */
  renewalOverlapDays: number;
}

/** Everything enrolment needs, passed in (no module-level singletons). */
export interface EnrolmentContext {
  store: Store;
  clock: Clock;
  keyring: CaKeyring;
  policy: IssuancePolicy;
  log: Logger;
  /** Re-publishes lists and CRL; awaited so a change is on the lists before the call returns. */
  publish(): Promise<void>;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
interface Pending {
  work(tx: Store): Promise<unknown>;
  settle(outcome: Outcome): void;
}

/**
 * Group commit for audited changes: changes that arrive while a transaction is committing wait
 * and then share the next one, each in its own savepoint (a change that fails undoes only
 * itself). Every change is durable when its caller hears back; under concurrency one commit
 * (one fsync) carries many.
 */
class GroupCommit {
  #queue: Pending[] = [];
  #draining = false;
  constructor(private readonly store: Store) {}

  run<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
      if (this.#draining) return;
      this.#draining = true;
      // Requests read from the network in the same turn of the event loop reach this point one after
      // another; starting the transaction after that turn lets them all share it.
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, 64);
      const outcomes: Outcome[] = [];
      try {
        await this.store.withLock('audit', async (tx) => {
          // A change alone in its transaction needs no savepoint: if it fails, the whole transaction is its own.
          if (batch.length === 1) {
            outcomes.push({ ok: true, value: await batch[0]!.work(tx) });
            return;
          }
          for (const p of batch) {
            try {
              outcomes.push({ ok: true, value: await tx.savepoint(p.work) });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        });
        batch.forEach((p, i) => p.settle(outcomes[i]!));
      } catch (error) {
        for (const p of batch) p.settle({ ok: false, error });
      }
    }
    this.#draining = false;
  }
}

const groupCommits = new WeakMap<Store, GroupCommit>();

/** Runs `work` under the audit lock, committed together with whatever else is waiting. */
function underAuditLock<T>(store: Store, work: (tx: Store) => Promise<T>): Promise<T> {
  // Inside a caller's transaction there is nothing to share: join it.
  if (store.inTransaction) return store.withLock('audit', work);
  let g = groupCommits.get(store);
  if (!g) groupCommits.set(store, (g = new GroupCommit(store)));
  return g.run(work);
}

/**
 * Runs a state change and its audit event in one transaction, so neither exists without the other.
 * The audit lock keeps the hash chain linear across instances.
 */
export async function audited<T>(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  actor: Actor,
  event: { action: string; target: string | null; details?: (result: T) => Record<string, unknown> },
  change: (tx: Store) => Promise<T>,
): Promise<T> {
  return underAuditLock(ctx.store, async (tx) => {
    const result = await change(tx);
    await tx.audit.append({
      at: ctx.clock.now(),
      actor: actor.id,
      action: event.action,
      target: event.target,
      sourceIp: actor.sourceIp,
      details: event.details?.(result) ?? null,
    });
    return result;
  });
}

/** Records an event that has no state change of its own (sign-in, sign-out). */
export async function audit(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  actor: Actor,
  action: string,
  target: string | null,
  details?: Record<string, unknown>,
): Promise<void> {
  await underAuditLock(ctx.store, (tx) =>
    tx.audit.append({ at: ctx.clock.now(), actor: actor.id, action, target, sourceIp: actor.sourceIp, details: details ?? null }),
  );
}
