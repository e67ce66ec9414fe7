import { BadRequest, Conflict, Forbidden, NotFound, RateLimited } from '../errors.ts';
import { LOGIN_WINDOW_MS, MAX_FAILURES_PER_ACCOUNT_AND_SOURCE } from './login.ts';
import type { User } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';
import { normalizeEmail } from './identity.ts';
import { generatePassword, hashPassword, verifyPassword } from './passwords.ts';
import { revoke } from './revoke.ts';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

/** A password mailca will store: 10 to 1024 characters on one line (a line break is a paste or pipe gone wrong). */
export function checkNewPassword(password: unknown, name = 'password'): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new BadRequest('weak_password', `${name} must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (/[\r\n]/.test(password)) throw new BadRequest('multiline_password', `${name} must be one line (it contains a line break)`);
  return password;
}

export async function addUser(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { email: unknown; displayName?: unknown; isAdmin?: unknown; password?: unknown; identity?: { provider: string; subject: string } },
): Promise<User> {
  const email = normalizeEmail(req.email);
  if (req.displayName !== undefined && req.displayName !== null && (typeof req.displayName !== 'string' || req.displayName.length > 200 || /\p{Cc}/u.test(req.displayName))) {
    throw new BadRequest('invalid_name', 'name must be a string of at most 200 printable characters');
  }
  if (req.isAdmin !== undefined && typeof req.isAdmin !== 'boolean') throw new BadRequest('invalid_admin', 'admin must be true or false');
  let passwordHash: string | null = null;
  if (req.password !== undefined && req.password !== null) passwordHash = await hashPassword(checkNewPassword(req.password));
  if (await ctx.store.users.findByEmail(email)) throw new Conflict('user_exists', `${email} already exists`);
  try {
    return await audited(ctx, actor, { action: 'user.add', target: email, details: (u) => ({ admin: u.isAdmin, ...(u.identityProvider ? { provider: u.identityProvider } : {}) }) }, async (tx) => {
      // Under the audit lock, which adding an alias holds too: an address is a user's or an alias, never both.
      const aliasOf = await tx.aliases.findOwner(email);
      if (aliasOf !== undefined) {
        const owner = await tx.users.findById(aliasOf);
        throw new Conflict('address_is_alias', `the address ${email} is a sender alias of ${owner?.email ?? `user ${aliasOf}`}; remove the alias first`);
      }
      return tx.users.insert({
        email,
        displayName: (req.displayName as string | undefined) ?? null,
        isAdmin: req.isAdmin === true,
        passwordHash,
        createdAt: ctx.clock.now(),
        identityProvider: req.identity?.provider ?? null,
        identitySubject: req.identity?.subject ?? null,
      });
    });
  } catch (e) {
    // Lost a race with a concurrent add of the same address.
    if (await ctx.store.users.findByEmail(email)) throw new Conflict('user_exists', `${email} already exists`);
    throw e;
  }
}

export async function findUser(ctx: Pick<EnrolmentContext, 'store'>, email: unknown): Promise<User> {
  const normalized = normalizeEmail(email);
  const user = await ctx.store.users.findByEmail(normalized);
  if (!user) throw new NotFound('user_not_found', `no user ${normalized}`);
  return user;
}

/**
 * Disables a user and revokes every certificate they still hold (reason affiliationChanged).
 * Safe to repeat: on an already disabled user it revokes whatever is left.
 */
export async function disableUser(ctx: EnrolmentContext, actor: Actor, emailInput: unknown): Promise<{ user: User; revoked: string[] }> {
  const user = await findUser(ctx, emailInput);
  const now = ctx.clock.now();
  if (!user.disabledAt) {
    await audited(ctx, actor, { action: 'user.disable', target: user.email }, (tx) => tx.users.setDisabled(user.id, now));
  }
  const revoked: string[] = [];
  // Issuance re-checks the user under the same lock, so no certificate can appear after this list.
  for (const cert of await ctx.store.certificates.listUnrevokedForUser(user.id, now)) {
    try {
      await revoke(ctx, actor, { serial: cert.serial, reason: 'affiliationChanged' });
      revoked.push(cert.serial);
    } catch (e) {
      if (!(e instanceof Conflict)) throw e; // revoked meanwhile by someone else
    }
  }
  if (revoked.length === 0) await ctx.publish();
  return { user: { ...user, disabledAt: user.disabledAt ?? now }, revoked };
}

/**
 * An admin sets (or, without `password`, generates) a user's password. All of the user's sessions
 * end: whoever was signed in with the old password is signed out. Returns the generated password, once.
 */
export async function resetPassword(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  actor: Actor,
  req: { email: unknown; password?: unknown },
): Promise<{ user: User; generatedPassword?: string; endedSessions: number }> {
  const user = await findUser(ctx, req.email);
  const generated = req.password === undefined || req.password === null || req.password === '' ? generatePassword() : undefined;
  const hash = await hashPassword(generated ?? checkNewPassword(req.password));
  const endedSessions = await audited<number>(ctx, actor, { action: 'user.password.reset', target: user.email, details: (n) => ({ generated: generated !== undefined, ended_sessions: n }) }, async (tx) => {
    await tx.users.setPasswordHash(user.id, hash);
    return tx.sessions.destroyForUser(user.id);
  });
  return { user, endedSessions, ...(generated ? { generatedPassword: generated } : {}) };
}

/**
 * A user changes their own password, proving the current one. Their other sessions end; the one
 * making the change (`keepSessionId`) stays signed in.
 */
export async function changeOwnPassword(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  actor: Actor,
  req: { user: User; currentPassword: unknown; newPassword: unknown; keepSessionId?: string },
): Promise<void> {
  const user = await ctx.store.users.findById(req.user.id);
  if (!user || user.disabledAt) throw new NotFound('user_not_found', `no user ${req.user.email}`);
  if (!user.passwordHash) throw new Conflict('no_local_password', 'this account has no mailca password to change (it signs in another way)');
  // Whoever holds a session must not get unlimited guesses at the password through this form.
  const since = new Date(ctx.clock.now().getTime() - LOGIN_WINDOW_MS);
  if ((await ctx.store.audit.countSince('user.password.change_refused', since, { target: user.email })) >= MAX_FAILURES_PER_ACCOUNT_AND_SOURCE) {
    throw new RateLimited('too_many_attempts', 'too many wrong current passwords; try again in 15 minutes', LOGIN_WINDOW_MS / 1000);
  }
  const current = typeof req.currentPassword === 'string' ? req.currentPassword : '';
  if (!(await verifyPassword(current, user.passwordHash))) {
    await audited(ctx, actor, { action: 'user.password.change_refused', target: user.email }, async () => undefined);
    throw new Forbidden('wrong_password', 'the current password is not correct');
  }
  const hash = await hashPassword(checkNewPassword(req.newPassword, 'new_password'));
  await audited<number>(ctx, actor, { action: 'user.password.change', target: user.email, details: (n) => ({ ended_sessions: n }) }, async (tx) => {
    await tx.users.setPasswordHash(user.id, hash);
    return tx.sessions.destroyForUser(user.id, req.keepSessionId);
  });
}

/** Re-enables a disabled user. Their revoked certificates stay revoked: they enrol again. */
export async function enableUser(ctx: Pick<EnrolmentContext, 'store' | 'clock'>, actor: Actor, emailInput: unknown): Promise<{ user: User; changed: boolean }> {
  const user = await findUser(ctx, emailInput);
  if (!user.disabledAt) return { user, changed: false };
  await audited(ctx, actor, { action: 'user.enable', target: user.email }, (tx) => tx.users.setEnabled(user.id));
  return { user: { ...user, disabledAt: null }, changed: true };
}

/** Clears the sign-in lockout of an account: failed attempts before now no longer count against it. */
export async function unlockUser(ctx: Pick<EnrolmentContext, 'store' | 'clock'>, actor: Actor, emailInput: unknown): Promise<User> {
  const user = await findUser(ctx, emailInput);
  await audited(ctx, actor, { action: 'user.unlock', target: user.email }, async () => undefined);
  return user;
}
