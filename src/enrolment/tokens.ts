import { createHash, randomBytes } from 'node:crypto';
import { BadRequest, Conflict, NotFound } from '../errors.ts';
import type { ApiToken, Store, TokenRole } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';

const TOKEN_PREFIX = 'mca_';
const ROLES: readonly TokenRole[] = ['admin', 'mta'];

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Creates a bearer token; the secret is returned once and only its hash is stored. */
export async function createToken(
  ctx: Pick<EnrolmentContext, 'store' | 'clock'>,
  actor: Actor,
  req: { role: unknown; name: unknown },
): Promise<{ token: string; record: ApiToken }> {
  if (typeof req.role !== 'string' || !ROLES.includes(req.role as TokenRole)) {
    throw new BadRequest('invalid_role', `role must be one of: ${ROLES.join(', ')}`);
  }
  if (typeof req.name !== 'string' || !/^[\w.@-]{1,100}$/.test(req.name)) {
    throw new BadRequest('invalid_name', 'token name must be 1-100 characters of letters, digits, . _ - @');
  }
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const name = req.name;
  const role = req.role as TokenRole;
  // Checked under the audit lock, so two creations of one name cannot both pass: revoking by name
  // must revoke exactly the token that was meant.
  const record = await audited(ctx, actor, { action: 'token.create', target: name, details: () => ({ role }) }, async (tx) => {
    if (await tx.tokens.hasActiveNamed(name)) throw new Conflict('token_exists', `an active token is already named ${name}; revoke it first or choose another name`);
    return tx.tokens.insert({ name, role, tokenSha256: sha256(token), createdAt: ctx.clock.now() });
  });
  return { token, record };
}

/** Revokes a token by name (all active tokens of that name) or id; the next request with it gets 401. */
export async function revokeToken(ctx: Pick<EnrolmentContext, 'store' | 'clock'>, actor: Actor, nameOrId: unknown): Promise<number> {
  if (typeof nameOrId !== 'string' || !/^[\w.@-]{1,100}$/.test(nameOrId)) throw new BadRequest('invalid_name', 'give a token name or id');
  const n = await audited<number>(ctx, actor, { action: 'token.revoke', target: nameOrId, details: (count) => ({ revoked: count }) }, (tx) =>
    tx.tokens.revoke(nameOrId, ctx.clock.now()),
  );
  if (n === 0) throw new NotFound('token_not_found', `no active token named ${nameOrId}`);
  return n;
}

export async function authenticateToken(store: Store, token: string): Promise<ApiToken | undefined> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return undefined;
  return store.tokens.findActiveByHash(sha256(token));
}
