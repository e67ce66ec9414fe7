import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, EqualityFilter, Filter, InvalidCredentialsError, NoSuchObjectError, SizeLimitExceededError } from 'ldapts';
import type { Config } from '../config.ts';
import { ConfigError, ServiceUnavailable } from '../errors.ts';

export interface LdapSettings {
  url: string;
  /** The account that searches for users; anonymous search without it. */
  bindDn?: string;
  bindPassword?: string;
  baseDn: string;
  /** An LDAP filter with `{email}` where the (escaped) address goes. */
  userFilter: string;
  /** A group DN whose `member`s are admins; without it the directory says nothing about admins. */
  adminGroup?: string;
  /** The attribute whose values are the user's addresses: the first is the address, the others sender aliases. */
  aliasAttribute: string;
  /** PEM CA certificates to trust for ldaps:// or StartTLS. */
  caPem?: Buffer;
  startTls: boolean;
}

/** A person as the directory describes them. */
export interface DirectoryEntry {
  dn: string;
  /** The entry's first `mail` value, lower case: the address certificates are issued for. */
  address: string;
  /** The alias attribute's other values, lower case (the address itself left out). */
  aliases: string[];
  displayName?: string;
  /** Whether the entry is a `member` of the admin group; undefined without an admin group. */
  isAdmin?: boolean;
}

/**
 * The answer to "who is this address?": one entry; nobody (the person has left, or never was);
 * or entries mailca cannot use (several match, or the match has no address), which is neither.
 */
export type DirectoryLookup = { status: 'found'; entry: DirectoryEntry } | { status: 'absent' } | { status: 'unusable'; reason: string };

const CONNECT_TIMEOUT_MS = 5_000;
const OPERATION_TIMEOUT_MS = 10_000;

/** The directory's settings from configuration (MAILCA_LDAP_*); undefined when no directory is configured. */
export function ldapSettingsFromConfig(config: Config): LdapSettings | undefined {
  if (!config.ldapUrl || !config.ldapBaseDn) return undefined;
  let caPem: Buffer | undefined;
  if (config.ldapCaFile) {
    try {
      caPem = readFileSync(config.ldapCaFile);
    } catch (e) {
      throw new ConfigError('config_invalid', `MAILCA_LDAP_CA_FILE (${config.ldapCaFile}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return {
    url: config.ldapUrl,
    bindDn: config.ldapBindDn,
    bindPassword: config.ldapBindPassword,
    baseDn: config.ldapBaseDn,
    userFilter: config.ldapUserFilter,
    adminGroup: config.ldapAdminGroup,
    aliasAttribute: config.ldapAliasAttribute,
    caPem,
    startTls: config.ldapStartTls,
  };
}

/** The filter for one address: `{email}` replaced by the address escaped as RFC 4515 says. */
export function userFilterFor(template: string, email: string): string {
  return template.split('{email}').join(Filter.escape(email));
}

const firstString = (v: unknown): string | undefined => {
  const first = Array.isArray(v) ? v[0] : v;
  if (typeof first === 'string') return first;
  if (Buffer.isBuffer(first)) return first.toString('utf8');
  return undefined;
};
const strings = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));

/** Why a directory operation failed, without the password or internals. */
function unavailable(what: string, e: unknown): ServiceUnavailable {
  const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
  return new ServiceUnavailable('directory_unavailable', `the directory cannot be reached (${what}: ${reason}); try again later`);
}

/**
 * The LDAP directory, read through a search account. Passwords are checked by binding as the
 * user's DN, never by reading or comparing attributes. Any failure to reach or use the directory
 * is `ServiceUnavailable`: callers must never read it as "the user is gone".
 */
export class LdapDirectory {
  constructor(readonly settings: LdapSettings) {}

  /** A connection bound as the search account (over TLS when configured), closed after `fn`. */
  async session<T>(fn: (search: DirectorySession) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    try {
      if (this.settings.bindDn) {
        try {
          await client.bind(this.settings.bindDn, this.settings.bindPassword ?? '');
        } catch (e) {
          if (e instanceof InvalidCredentialsError) throw new ServiceUnavailable('directory_unavailable', 'the directory refused the search account (MAILCA_LDAP_BIND_DN / MAILCA_LDAP_BIND_PASSWORD)');
          throw unavailable('bind as the search account', e);
        }
      }
      return await fn(new DirectorySession(client, this.settings));
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /** The entry for an address. */
  findByAddress(email: string): Promise<DirectoryLookup> {
    return this.session((s) => s.findByAddress(email));
  }

  /** True if `password` is the entry's password (a bind as `dn` succeeds). An empty password is refused without a bind. */
  async checkPassword(dn: string, password: string): Promise<boolean> {
    // A simple bind with an empty password is an anonymous bind, which succeeds: never send one.
    if (password === '') return false;
    const client = await this.#connect();
    try {
      await client.bind(dn, password);
      return true;
    } catch (e) {
      if (e instanceof InvalidCredentialsError) return false;
      throw unavailable('bind as the user', e);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /** A client for the directory; ldapts connects on the first operation, so failures surface there. */
  async #connect(): Promise<Client> {
    const tlsOptions: ConnectionOptions | undefined = this.settings.caPem ? { ca: this.settings.caPem } : undefined;
    // tlsOptions only for ldaps://: ldapts then connects over TLS, which would break StartTLS on ldap://.
    const ldaps = this.settings.url.startsWith('ldaps:');
    const client = new Client({
      url: this.settings.url,
      connectTimeout: CONNECT_TIMEOUT_MS,
      timeout: OPERATION_TIMEOUT_MS,
      tlsOptions: ldaps ? tlsOptions : undefined,
      strictDN: true,
    });
    if (this.settings.startTls) {
      try {
        // The certificate is checked against the URL's host (an IP against the IP SANs; SNI only for names).
        const host = new URL(this.settings.url).hostname.replace(/^\[(.*)\]$/, '$1');
        await client.startTLS({ ...tlsOptions, host, ...(isIP(host) ? {} : { servername: host }) });
      } catch (e) {
        await client.unbind().catch(() => undefined);
        throw unavailable('StartTLS', e);
      }
    }
    return client;
  }
}

/** Searches over one connection bound as the search account. */
export class DirectorySession {
  constructor(
    private readonly client: Client,
    private readonly settings: LdapSettings,
  ) {}

  async findByAddress(email: string): Promise<DirectoryLookup> {
    const attribute = this.settings.aliasAttribute;
    let entries;
    try {
      ({ searchEntries: entries } = await this.client.search(this.settings.baseDn, {
        scope: 'sub',
        filter: userFilterFor(this.settings.userFilter, email),
        attributes: [...new Set(['mail', attribute, 'displayName', 'cn'])],
        sizeLimit: 2,
      }));
    } catch (e) {
      if (e instanceof SizeLimitExceededError) return { status: 'unusable', reason: 'several entries match' };
      throw unavailable('search', e);
    }
    if (entries.length === 0) return { status: 'absent' };
    if (entries.length > 1) return { status: 'unusable', reason: 'several entries match' };
    const entry = entries[0]!;
    const address = firstString(entry.mail)?.trim().toLowerCase();
    if (!address) return { status: 'unusable', reason: `${entry.dn} has no mail attribute` };
    const aliases = [...new Set(strings(entry[attribute]).map((a) => a.trim().toLowerCase()))].filter((a) => a !== '' && a !== address);
    const displayName = firstString(entry.displayName) ?? firstString(entry.cn);
    return { status: 'found', entry: { dn: entry.dn, address, aliases, displayName, isAdmin: await this.#isAdmin(entry.dn) } };
  }

  async #isAdmin(dn: string): Promise<boolean | undefined> {
    const group = this.settings.adminGroup;
    if (!group) return undefined;
    try {
      const { searchEntries } = await this.client.search(group, { scope: 'base', filter: new EqualityFilter({ attribute: 'member', value: dn }), attributes: ['dn'] });
      return searchEntries.length > 0;
    } catch (e) {
      if (e instanceof NoSuchObjectError) return false; // no such group: nobody is an admin through it
      throw unavailable('admin group search', e);
    }
  }
}
