import type { Knex } from 'knex';
import type { DirectSql } from './db.ts';
import type { ApiToken, TokenRole } from './types.ts';

interface TokenRow {
  id: number;
  name: string;
  role: TokenRole;
  token_sha256: string;
  created_at: number;
  revoked_at: number | null;
}

const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  name: r.name,
  role: r.role,
  createdAt: new Date(r.created_at),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
});

export class TokenStore {
  constructor(
    private readonly db: Knex,
    private readonly direct: DirectSql,
  ) {}

  async insert(t: { name: string; role: TokenRole; tokenSha256: string; createdAt: Date }): Promise<ApiToken> {
    const [row] = await this.db<TokenRow>('api_tokens')
      .insert({ name: t.name, role: t.role, token_sha256: t.tokenSha256, created_at: t.createdAt.getTime() })
      .returning('*');
    return toToken(row as TokenRow);
  }

  async hasActiveNamed(name: string): Promise<boolean> {
    return (await this.db('api_tokens').where({ name }).whereNull('revoked_at').first('id')) !== undefined;
  }

  async list(): Promise<ApiToken[]> {
    return (await this.db<TokenRow>('api_tokens').orderBy('id')).map(toToken);
  }

  /** Revokes active tokens with this name (or numeric id); returns how many. */
  async revoke(nameOrId: string, at: Date): Promise<number> {
    const q = this.db('api_tokens').whereNull('revoked_at');
    const byId = /^\d+$/.test(nameOrId) ? q.where((w) => w.where({ name: nameOrId }).orWhere({ id: Number(nameOrId) })) : q.where({ name: nameOrId });
    return byId.update({ revoked_at: at.getTime() });
  }

  /** On every request with a bearer token (MTAs re-check their lists often): a hand-written statement. */
  async findActiveByHash(tokenSha256: string): Promise<ApiToken | undefined> {
    const row = await this.direct.get<TokenRow>('SELECT * FROM "api_tokens" WHERE "token_sha256" = ? AND "revoked_at" IS NULL LIMIT 1', [tokenSha256]);
    return row && toToken(row);
  }
}

export class BlockedKeyStore {
  constructor(
    private readonly db: Knex,
    private readonly direct: DirectSql,
  ) {}

  async block(spkiSha256: string, serial: string, at: Date): Promise<void> {
    await this.db('blocked_keys').insert({ spki_sha256: spkiSha256, serial, blocked_at: at.getTime() }).onConflict('spki_sha256').ignore();
  }

  /** The serial whose keyCompromise revocation blocked this key, if any. */
  async findBlockingSerial(spkiSha256: string): Promise<string | undefined> {
    const row = await this.direct.get<{ serial: string }>('SELECT "serial" FROM "blocked_keys" WHERE "spki_sha256" = ? LIMIT 1', [spkiSha256]);
    return row?.serial;
  }
}

export class SessionStore {
  constructor(
    private readonly db: Knex,
    private readonly direct: DirectSql,
  ) {}

  /** On every request with a session cookie: a hand-written statement. */
  async get(sid: string, now: Date): Promise<string | undefined> {
    const row = await this.direct.get<{ data: string }>('SELECT "data" FROM "sessions" WHERE "sid" = ? AND "expires_at" > ? LIMIT 1', [sid, now.getTime()]);
    return row?.data;
  }

  /** `userId`: whose session it is (null before sign-in). */
  async set(sid: string, data: string, expiresAt: Date, userId: number | null = null): Promise<void> {
    await this.db('sessions').insert({ sid, data, expires_at: expiresAt.getTime(), user_id: userId }).onConflict('sid').merge();
  }

  /** Ends every session of a user, except `exceptSid` (the one making the change); returns how many. */
  async destroyForUser(userId: number, exceptSid?: string): Promise<number> {
    const q = this.db('sessions').where({ user_id: userId });
    return (exceptSid === undefined ? q : q.whereNot({ sid: exceptSid })).delete();
  }

  async touch(sid: string, expiresAt: Date): Promise<void> {
    await this.db('sessions').where({ sid }).update({ expires_at: expiresAt.getTime() });
  }

  async destroy(sid: string): Promise<void> {
    await this.db('sessions').where({ sid }).delete();
  }

  async deleteExpired(now: Date): Promise<number> {
    return this.db('sessions').where('expires_at', '<=', now.getTime()).delete();
  }
}
