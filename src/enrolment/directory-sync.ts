import type { DirectoryEntry, DirectoryLookup, LdapDirectory } from '../directory/ldap-directory.ts';
import type { Actor, EnrolmentContext } from './context.ts';
import { disableLeaver, syncFromProvider, type VerifiedIdentity } from './sign-in.ts';

export const LDAP_PROVIDER = 'ldap';

/** What the directory says about a person, as a sign-in identity. */
export function ldapIdentity(entry: DirectoryEntry): VerifiedIdentity {
  return { address: entry.address, provider: LDAP_PROVIDER, subject: entry.dn, displayName: entry.displayName, isAdmin: entry.isAdmin, aliases: entry.aliases };
}

export interface DirectorySyncResult {
  checked: number;
  /** Users whose address matches several entries, or one without an address: left as they are. */
  unusable: { email: string; reason: string }[];
  /** Users no longer in the directory: disabled, certificates revoked. */
  disabled: { email: string; revoked: string[] }[];
}

/**
 * `mailca directory sync` (also run by the scheduler): every enabled directory user is looked up;
 * one the directory no longer has (or whose entry now has another address) is disabled and their
 * certificates revoked; the others get their admin flag and aliases synced. The lookups all happen
 * before anyone is disabled: if the directory cannot be reached, nothing changes.
 */
export async function syncDirectory(ctx: EnrolmentContext, actor: Actor, directory: LdapDirectory): Promise<DirectorySyncResult> {
  const users = await ctx.store.users.listByIdentityProvider(LDAP_PROVIDER);
  const found = await directory.session(async (s) => {
    const entries = new Map<number, DirectoryLookup>();
    for (const u of users) entries.set(u.id, await s.findByAddress(u.email));
    return entries;
  });
  const result: DirectorySyncResult = { checked: users.length, unusable: [], disabled: [] };
  for (const user of users) {
    const lookup = found.get(user.id)!;
    if (lookup.status === 'unusable') {
      result.unusable.push({ email: user.email, reason: lookup.reason });
    } else if (lookup.status === 'absent' || lookup.entry.address !== user.email) {
      const { revoked } = await disableLeaver(ctx, actor, user);
      result.disabled.push({ email: user.email, revoked });
    } else {
      await syncFromProvider(ctx, actor, user, ldapIdentity(lookup.entry));
    }
  }
  return result;
}
