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
  return ctx.store.withLock('audit', async (tx) => {
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
  await ctx.store.withLock('audit', (tx) =>
    tx.audit.append({ at: ctx.clock.now(), actor: actor.id, action, target, sourceIp: actor.sourceIp, details: details ?? null }),
  );
}
