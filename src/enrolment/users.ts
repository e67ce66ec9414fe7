import { BadRequest, Conflict, NotFound } from '../errors.ts';
import type { User } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';
import { normalizeEmail } from './identity.ts';
import { hashPassword } from './passwords.ts';
import { revoke } from './revoke.ts';

export const MIN_PASSWORD_LENGTH = 10;

export async function addUser(
  ctx: EnrolmentContext,
  actor: Actor,
  req: { email: unknown; displayName?: unknown; isAdmin?: unknown; password?: unknown; identity?: { provider: string; subject: string } },
): Promise<User> {
  const email = normalizeEmail(req.email);
  if (req.displayName !== undefined && req.displayName !== null && (typeof req.displayName !== 'string' || req.displayName.length > 200)) {
    throw new BadRequest('invalid_name', 'name must be a string of at most 200 characters');
  }
  if (req.isAdmin !== undefined && typeof req.isAdmin !== 'boolean') throw new BadRequest('invalid_admin', 'admin must be true or false');
  let passwordHash: string | null = null;
  if (req.password !== undefined && req.password !== null) {
    if (typeof req.password !== 'string' || req.password.length < MIN_PASSWORD_LENGTH || req.password.length > 1024) {
      throw new BadRequest('weak_password', `password must be ${MIN_PASSWORD_LENGTH} to 1024 characters`);
    }
    passwordHash = await hashPassword(req.password);
  }
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
