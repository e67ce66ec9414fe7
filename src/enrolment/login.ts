import { MINUTE_MS } from '../clock.ts';
import { RateLimited, ServiceUnavailable, Unauthenticated } from '../errors.ts';
import type { User } from '../store/index.ts';
import { audit, type EnrolmentContext } from './context.ts';
import { dummyPasswordHash, verifyPassword } from './passwords.ts';

/**
 * Sign-in limits, over a sliding 15-minute window of failed (or still unfinished) attempts:
 * - 5 per account from one source address: a guesser is stopped quickly, and only at their address;
 * - 50 per account from all addresses together: a ceiling against guessing from many addresses,
 *   ten times higher so that one address's guesses never lock the owner out from another;
 * - 20 per source address over all accounts: one address spraying many accounts.
 * `mailca user unlock` (or the admin API) clears an account's counts.
 */
export const LOGIN_WINDOW_MS = 15 * MINUTE_MS;
export const MAX_FAILURES_PER_ACCOUNT_AND_SOURCE = 5;
export const MAX_FAILURES_PER_ACCOUNT = 50;
export const MAX_FAILURES_PER_IP = 20;

const INVALID = 'invalid email or password';

/**
 * Checks an address and password (the sign-in providers in order, src/http/sign-in/registry.ts):
 * the user and the provider that verified them, or undefined.
 */
export type PasswordCheck = (email: string, password: string, sourceIp: string | null) => Promise<{ user: User; provider: string } | undefined>;

/** Local accounts only: the scrypt hash in the user table. Unknown users take as long as wrong passwords. */
export function localPasswordCheck(ctx: Pick<EnrolmentContext, 'store'>): PasswordCheck {
  return async (email, password) => {
    const user = email ? await ctx.store.users.findByEmail(email) : undefined;
    const ok = user?.passwordHash && !user.disabledAt ? await verifyPassword(password, user.passwordHash) : (await verifyPassword(password, await dummyPasswordHash()), false);
    return ok && user ? { user, provider: 'local' } : undefined;
  };
}

/**
 * Password sign-in. Unknown user and wrong password look the same (message and timing). Attempts
 * are counted from the audit log, so limits hold across restarts and instances.
 */
export async function passwordLogin(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  req: { email: unknown; password: unknown; sourceIp: string | null },
  check: PasswordCheck = localPasswordCheck(ctx),
): Promise<User> {
  // Addresses are printable ASCII. Anything else is never a user's address, even where lower-casing
  // would make it one (the Kelvin sign U+212A becomes "k"); it is still counted, with control
  // characters (PostgreSQL refuses NUL in text) as U+FFFD.
  const raw = typeof req.email === 'string' ? req.email.trim().slice(0, 320) : '';
  const plain = /^[\x20-\x7e]*$/.test(raw);
  const email = plain ? raw.toLowerCase() : raw.replace(/\p{Cc}/gu, '\uFFFD');
  const password = typeof req.password === 'string' ? req.password : '';
  const actor = { id: `user:${email || '(empty)'}`, sourceIp: req.sourceIp };
  // Count and record the attempt atomically, before the (slow) password check, so parallel
  // guesses cannot all slip under the limit. Unresolved = attempts that did not succeed.
  await ctx.store.withLock('audit', async (tx) => {
    const since = new Date(ctx.clock.now().getTime() - LOGIN_WINDOW_MS);
    // An unlock by an admin starts the account's count afresh.
    const afterId = await tx.audit.latestIdSince('user.unlock', email, since);
    const unresolved = async (by: { target?: string; sourceIp?: string; afterId?: number }) =>
      (await tx.audit.countSince('login.attempt', since, by)) - (await tx.audit.countSince('login.success', since, by));
    const byAccount = await unresolved({ target: email, afterId });
    // Without a known source, the attempt counts against the account at the per-source limit.
    const byAccountAndSource = req.sourceIp ? await unresolved({ target: email, sourceIp: req.sourceIp, afterId }) : byAccount;
    const byIp = req.sourceIp ? await unresolved({ sourceIp: req.sourceIp }) : 0;
    if (byAccountAndSource >= MAX_FAILURES_PER_ACCOUNT_AND_SOURCE || byAccount >= MAX_FAILURES_PER_ACCOUNT || byIp >= MAX_FAILURES_PER_IP) {
      throw new RateLimited('too_many_attempts', 'too many failed sign-ins; try again in 15 minutes', LOGIN_WINDOW_MS / 1000);
    }
    await tx.audit.append({ at: ctx.clock.now(), actor: actor.id, action: 'login.attempt', target: email, sourceIp: req.sourceIp });
  });
  let verified: Awaited<ReturnType<PasswordCheck>>;
  try {
    verified = email && plain ? await check(email, password, req.sourceIp) : (await verifyPassword(password, await dummyPasswordHash()), undefined);
  } catch (e) {
    if (e instanceof ServiceUnavailable) await audit(ctx, actor, 'login.failure', email || null, { reason: e.code });
    throw e;
  }
  if (!verified) {
    await audit(ctx, actor, 'login.failure', email || null);
    throw new Unauthenticated('invalid_credentials', INVALID);
  }
  // Names the provider that verified the person. The target stays the address typed (attempts are
  // counted by it); `address` is the one certificates are issued for, when the provider resolved another.
  await audit(ctx, actor, 'login.success', email, { provider: verified.provider, ...(verified.user.email !== email ? { address: verified.user.email } : {}) });
  return verified.user;
}
