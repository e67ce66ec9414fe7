import { BadRequest, Conflict, NotFound } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';
import { normalizeEmail } from './identity.ts';
import { findUser } from './users.ts';

/**
 * Sender aliases: addresses a user's certificates may send as besides the user's own (the MTAs
 * check MAIL FROM against that list). An alias belongs to one user and is never a user's address;
 * both are checked under the audit lock, which `user add` takes as well, so neither race is lost.
 * A disabled user keeps their aliases (their certificates are revoked, so the aliases no longer let
 * anyone send), and the addresses stay reserved until an admin removes them.
 */

/** An alias in the canonical form of a user address; a bad one is `invalid_alias`. */
export function normalizeAlias(input: unknown): string {
  try {
    return normalizeEmail(input);
  } catch (e) {
    if (e instanceof BadRequest) throw new BadRequest('invalid_alias', e.message.replace(/^email must/, 'alias must'));
    throw e;
  }
}

/** Refuses `address` if it is any user's address or already an alias (of anyone). Call under the audit lock. */
export async function assertAddressFree(tx: Store, address: string): Promise<void> {
  if (await tx.users.findByEmail(address)) throw new Conflict('address_is_user', `the address ${address} belongs to a user`);
  const owner = await tx.aliases.findOwner(address);
  if (owner !== undefined) {
    const user = await tx.users.findById(owner);
    throw new Conflict('alias_exists', `the address ${address} is already a sender alias of ${user?.email ?? `user ${owner}`}`);
  }
}

export async function listAliases(ctx: Pick<EnrolmentContext, 'store'>, emailInput: unknown): Promise<{ email: string; aliases: string[] }> {
  const user = await findUser(ctx, emailInput);
  return { email: user.email, aliases: (await ctx.store.aliases.listForUser(user.id)).map((a) => a.address) };
}

export async function addAlias(ctx: EnrolmentContext, actor: Actor, req: { email: unknown; alias: unknown }): Promise<{ email: string; alias: string }> {
  const user = await findUser(ctx, req.email);
  const alias = normalizeAlias(req.alias);
  await audited(ctx, actor, { action: 'user.alias.add', target: user.email, details: () => ({ alias }) }, async (tx) => {
    await assertAddressFree(tx, alias);
    await tx.aliases.add({ address: alias, userId: user.id, createdAt: ctx.clock.now() });
  });
  await ctx.publish();
  return { email: user.email, alias };
}

export async function removeAlias(ctx: EnrolmentContext, actor: Actor, req: { email: unknown; alias: unknown }): Promise<{ email: string; alias: string }> {
  const user = await findUser(ctx, req.email);
  const alias = normalizeAlias(req.alias);
  await audited(ctx, actor, { action: 'user.alias.remove', target: user.email, details: () => ({ alias }) }, async (tx) => {
    if (!(await tx.aliases.remove(user.id, alias))) throw new NotFound('alias_not_found', `${user.email} has no sender alias ${alias}`);
  });
  await ctx.publish();
  return { email: user.email, alias };
}
