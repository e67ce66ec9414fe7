import { MINUTE_MS } from '../clock.ts';
import { RateLimited, Unauthenticated } from '../errors.ts';
import type { User } from '../store/index.ts';
import { audit, type EnrolmentContext } from './context.ts';
import { dummyPasswordHash, verifyPassword } from './passwords.ts';

export const LOGIN_WINDOW_MS = 15 * MINUTE_MS;
export const MAX_FAILURES_PER_ACCOUNT = 5;
export const MAX_FAILURES_PER_IP = 20;

const INVALID = 'invalid email or password';

/**
 * Password sign-in. Unknown user and wrong password look the same (message and timing). Failures
 * are counted from the audit log, so limits hold across restarts and instances.
 */
export async function passwordLogin(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  req: { email: unknown; password: unknown; sourceIp: string | null },
): Promise<User> {
  const email = typeof req.email === 'string' ? req.email.trim().toLowerCase().slice(0, 320) : '';
  const password = typeof req.password === 'string' ? req.password : '';
  const since = new Date(ctx.clock.now().getTime() - LOGIN_WINDOW_MS);
  const byAccount = await ctx.store.audit.countSince('login.failure', since, { target: email });
  const byIp = req.sourceIp ? await ctx.store.audit.countSince('login.failure', since, { sourceIp: req.sourceIp }) : 0;
  if (byAccount >= MAX_FAILURES_PER_ACCOUNT || byIp >= MAX_FAILURES_PER_IP) {
    throw new RateLimited('too_many_attempts', 'too many failed sign-ins; try again in 15 minutes', LOGIN_WINDOW_MS / 1000);
  }
  const user = email ? await ctx.store.users.findByEmail(email) : undefined;
  const ok = user?.passwordHash && !user.disabledAt ? await verifyPassword(password, user.passwordHash) : (await verifyPassword(password, await dummyPasswordHash()), false);
  const actor = { id: `user:${email || '(empty)'}`, sourceIp: req.sourceIp };
  if (!ok || !user) {
    await audit(ctx, actor, 'login.failure', email || null);
    throw new Unauthenticated('invalid_credentials', INVALID);
  }
  await audit(ctx, actor, 'login.success', email);
  return user;
}
