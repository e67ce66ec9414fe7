import { Conflict, Forbidden, MailcaError, NotFound } from '../errors.ts';
import type { User } from '../store/index.ts';
import { addAlias, removeAlias } from './aliases.ts';
import { audit, audited, type Actor, type EnrolmentContext } from './context.ts';
import { normalizeEmail } from './identity.ts';
import { addUser, disableUser } from './users.ts';

/**
 * What a sign-in provider has verified about a person. Whatever the provider, certificates are
 * issued for `address` (it becomes the user row's email).
 */
export interface VerifiedIdentity {
  address: string;
  /** The provider that verified it, e.g. "local", "ldap". */
  provider: string;
  /** The provider's stable name for the person (a user id, a directory DN, an OIDC `sub`). */
  subject: string;
  displayName?: string;
  /** The provider's say on admin rights; undefined = it has none (the mailca flag stays as it is). */
  isAdmin?: boolean;
  /** The provider's list of sender aliases; undefined = it has none (mailca's aliases stay as they are). */
  aliases?: string[];
}

/** The actor for changes a provider makes (creating a user, syncing aliases): recorded in the audit log. */
export const providerActor = (provider: string, sourceIp: string | null): Actor => ({ id: `sign-in:${provider}`, sourceIp });

/**
 * The mailca user for a verified identity, or undefined if it may not sign in. A local identity is
 * its user row. An identity from another provider is created at first sign-in (no local password)
 * and its admin flag and aliases follow the provider at each sign-in. An address that belongs to a
 * user of another provider (a local account, say) is not taken over.
 */
export async function admitIdentity(ctx: EnrolmentContext, identity: VerifiedIdentity, sourceIp: string | null): Promise<User | undefined> {
  const address = normalizeEmail(identity.address);
  const existing = await ctx.store.users.findByEmail(address);
  if (identity.provider === 'local') return existing && !existing.disabledAt && existing.identityProvider === null ? existing : undefined;
  const actor = providerActor(identity.provider, sourceIp);
  let user = existing;
  if (!user) {
    try {
      user = await addUser(ctx, actor, {
        email: address,
        displayName: identity.displayName?.slice(0, 200),
        isAdmin: identity.isAdmin === true,
        identity: { provider: identity.provider, subject: identity.subject },
      });
    } catch (e) {
      // Created meanwhile by a parallel sign-in, or the address is someone's alias.
      if (!(e instanceof Conflict)) throw e;
      user = await ctx.store.users.findByEmail(address);
      if (!user) {
        ctx.log.warn({ address, provider: identity.provider, reason: e.message }, 'cannot create the user for a verified identity');
        return undefined;
      }
    }
  }
  if (user.identityProvider !== identity.provider || user.disabledAt) return undefined;
  return syncFromProvider(ctx, actor, user, identity);
}

/**
 * A sign-in through a provider the browser was sent to (OpenID Connect): the identity it verified
 * becomes (or finds) the mailca user. Audited like a password sign-in: `login.success` (with its
 * `login.attempt`, so the sign-in limits' counts stay balanced) names the provider; a refusal is
 * `login.failure` with the reason, and is not counted against the address's password sign-ins.
 */
export async function redirectSignIn(
  ctx: EnrolmentContext,
  provider: string,
  verified: { identity: VerifiedIdentity } | { error: MailcaError },
  sourceIp: string | null,
): Promise<User> {
  if ('error' in verified) {
    await audit(ctx, providerActor(provider, sourceIp), 'login.failure', null, { provider, reason: verified.error.code });
    throw verified.error;
  }
  const { identity } = verified;
  const user = await admitIdentity(ctx, identity, sourceIp);
  const address = normalizeEmail(identity.address);
  const actor = { id: `user:${address}`, sourceIp };
  if (!user) {
    const existing = await ctx.store.users.findByEmail(address);
    const refusal =
      existing && existing.identityProvider !== provider
        ? new Forbidden('address_taken', `${address} belongs to a mailca account that signs in another way (${existing.identityProvider ?? 'a mailca password'}), so it cannot sign in with this provider`)
        : existing?.disabledAt
          ? new Forbidden('account_disabled', `the account ${address} is disabled; ask an administrator`)
          : new Forbidden('sign_in_refused', `${address} cannot sign in here; ask an administrator`);
    await audit(ctx, actor, 'login.failure', address, { provider, reason: refusal.code });
    throw refusal;
  }
  await audited(ctx, actor, { action: 'login.success', target: address, details: () => ({ provider }) }, (tx) =>
    tx.audit.append({ at: ctx.clock.now(), actor: actor.id, action: 'login.attempt', target: address, sourceIp }),
  );
  return user;
}

/** Brings a provider user's admin flag, name, subject and aliases in line with what the provider says. */
export async function syncFromProvider(ctx: EnrolmentContext, actor: Actor, user: User, identity: VerifiedIdentity): Promise<User> {
  const patch: { isAdmin?: boolean; displayName?: string | null; identitySubject?: string } = {};
  if (identity.isAdmin !== undefined && identity.isAdmin !== user.isAdmin) patch.isAdmin = identity.isAdmin;
  const displayName = identity.displayName?.slice(0, 200);
  if (displayName !== undefined && displayName !== user.displayName) patch.displayName = displayName;
  if (identity.subject !== user.identitySubject) patch.identitySubject = identity.subject;
  if (Object.keys(patch).length > 0) {
    await audited(ctx, actor, { action: 'user.sync', target: user.email, details: () => ({ provider: identity.provider, ...patch }) }, (tx) =>
      tx.users.updateFromProvider(user.id, patch),
    );
  }
  if (identity.aliases) await syncAliases(ctx, actor, user, identity.aliases);
  return { ...user, ...patch } as User;
}

async function syncAliases(ctx: EnrolmentContext, actor: Actor, user: User, wanted: string[]): Promise<void> {
  const valid = new Set<string>();
  for (const a of wanted) {
    try {
      const alias = normalizeEmail(a);
      if (alias !== user.email) valid.add(alias);
    } catch {
      ctx.log.warn({ user: user.email, alias: a }, 'ignoring a directory alias that is not a valid address');
    }
  }
  const current = new Set((await ctx.store.aliases.listForUser(user.id)).map((a) => a.address));
  for (const alias of current) {
    if (valid.has(alias)) continue;
    try {
      await removeAlias(ctx, actor, { email: user.email, alias });
    } catch (e) {
      if (!(e instanceof NotFound)) throw e; // removed meanwhile
    }
  }
  for (const alias of valid) {
    if (current.has(alias)) continue;
    try {
      await addAlias(ctx, actor, { email: user.email, alias });
    } catch (e) {
      // A user's address or another user's alias: mailca keeps an address with one owner.
      if (!(e instanceof Conflict)) throw e;
      ctx.log.warn({ user: user.email, alias, reason: e.message }, 'the directory gives a sender alias that mailca cannot add');
    }
  }
}

/** A provider user who is no longer known to their provider: disabled, certificates revoked. */
export async function disableLeaver(ctx: EnrolmentContext, actor: Actor, user: User): Promise<{ revoked: string[] }> {
  const { revoked } = await disableUser(ctx, actor, user.email);
  ctx.log.info({ user: user.email, provider: user.identityProvider, revoked: revoked.length }, 'disabled a user who has left the directory');
  return { revoked };
}
