import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

const keyAlgorithm = z.enum(['P-256', 'P-384', 'RSA-3072']);

const boolish = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080')
  .transform((s) => {
    const i = s.lastIndexOf(':');
    const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(s.slice(i + 1));
    return { host, port };
  })
  .refine((l) => l.port < 65536, 'port must be 0-65535 (0 = any free port)');

const publicUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://ca.example.org' })
  .transform((u) => u.replace(/\/+$/, ''));

/** Loopback hosts, where a plain-http OpenID provider is accepted (a provider on this machine, e.g. for tests). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** The OpenID provider's issuer URL: https, or http on a loopback host only. */
const oidcIssuer = z
  .url({ protocol: /^https?$/, error: 'expected the issuer URL, e.g. https://login.example.org/realms/mail' })
  .superRefine((u, c) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      return; // reported by z.url
    }
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) c.addIssue({ code: 'custom', message: 'must be https:// (plain http:// only for a provider on this machine: localhost, 127.0.0.1, ::1)' });
    if (url.search || url.hash) c.addIssue({ code: 'custom', message: 'the issuer URL has no query or fragment' });
    if (url.username || url.password) c.addIssue({ code: 'custom', message: 'the issuer URL has no user name or password (use MAILCA_OIDC_CLIENT_SECRET)' });
  });

/** MAILCA_OIDC_ADMIN_CLAIM: "claim=value"; the claim may be a string or an array of strings. */
const oidcAdminClaim = z
  .string()
  .regex(/^[A-Za-z0-9_.:/-]{1,100}=[^=\s][^\n]{0,199}$/, 'expected CLAIM=VALUE, e.g. groups=mail-admins')
  .transform((s) => {
    const i = s.indexOf('=');
    return { claim: s.slice(0, i), value: s.slice(i + 1) };
  });

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** express's "trust proxy" list: names, addresses, address/prefix or address/netmask, comma-separated. */
function isTrustedProxyList(v: string): boolean {
  const items = v.split(',').map((s) => s.trim());
  return items.every((item) => {
    if (PROXY_NAMES.has(item)) return true;
    const [address = '', range, ...rest] = item.split('/');
    const family = isIP(address);
    if (!family || rest.length) return false;
    if (range === undefined) return true;
    if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
    return family === 4 && isIP(range) === 4;
  });
}

/**
 * Sign-in providers this build has, by the name MAILCA_SIGN_IN uses. Each has one module in
 * src/http/sign-in and one line in its registry (src/http/sign-in/registry.ts).
 */
export const SIGN_IN_PROVIDERS = ['local', 'ldap', 'oidc'] as const;
export type SignInProviderName = (typeof SIGN_IN_PROVIDERS)[number];

const signInList = z
  .union([z.string(), z.array(z.string())])
  .transform((v, c): SignInProviderName[] => {
    const names = (Array.isArray(v) ? v : v.split(',')).map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
    const known = SIGN_IN_PROVIDERS as readonly string[];
    for (const n of names) {
      if (!known.includes(n)) c.addIssue({ code: 'custom', message: `unknown sign-in provider "${n}" (available: ${known.join(', ')})` });
    }
    if (names.length === 0) c.addIssue({ code: 'custom', message: `name at least one sign-in provider (${known.join(', ')})` });
    if (new Set(names).size !== names.length) c.addIssue({ code: 'custom', message: 'a sign-in provider is named twice' });
    return names as SignInProviderName[];
  });

export const configSchema = z.object({
  dataDir: z.string().min(1).default('./data'),
  databaseUrl: z
    .string()
    .regex(/^(postgres|postgresql):\/\//, 'only postgres:// URLs are supported; leave unset for SQLite')
    .optional(),
  listen: listenAddress.prefault('127.0.0.1:8080'),
  // With both set, the listener serves HTTPS itself (and asks for, never requires, client certificates).
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  publicUrl: publicUrl.optional(),
  caPassphrase: z.string().min(12, 'must be at least 12 characters').optional(),
  caName: z.string().min(1).max(64).default('mailca client CA'),
  caKeyAlgorithm: keyAlgorithm.default('P-256'),
  caLifetimeDays: positiveInt(30, 36500).default(3650),
  certLifetimeDays: positiveInt(1, 3650).default(365),
  crlLifetimeHours: positiveInt(1, 24 * 90).default(168),
  emailProtection: boolish.default(false),
  renewalWindowDays: positiveInt(1, 3650).default(30),
  renewalOverlapDays: positiveInt(0, 365).default(7),
  reminderDays: z
    .string()
    .regex(/^\s*\d{1,4}(\s*,\s*\d{1,4})*\s*$/, 'expected a comma-separated list of days, e.g. 30,7,1')
    .transform((s) => [...new Set(s.split(',').map((d) => Number(d.trim())))].filter((d) => d > 0).sort((a, b) => b - a))
    .prefault('30,7,1'),
  smtpUrl: z.string().regex(/^smtps?:\/\//, 'expected smtp://host:port or smtps://user:pass@host:465').optional(),
  mailFrom: z.string().min(3).max(320).optional(),
  caExpiryWarnDays: positiveInt(1, 3650).default(90),
  // What the portal tells users to put in their mail client.
  submissionHost: z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$/, 'expected a host name such as mail.example.org').optional(),
  submissionTlsPort: z.coerce.number().int().min(0).max(65535).default(465), // 0 = not offered
  submissionStarttlsPort: z.coerce.number().int().min(0).max(65535).default(587), // 0 = not offered
  // none: the certificate alone (Postfix); external: the server offers AUTH EXTERNAL (the generated Exim configs).
  submissionAuth: z.enum(['none', 'external']).default('none'),
  sessionSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  sessionIdleMinutes: positiveInt(1, 24 * 60).default(30),
  // Requests held by allow-list long polls at once; more get 503 with Retry-After.
  maxLongPolls: positiveInt(1, 1_000_000).default(10_000),
  // Which X-Forwarded-* senders to believe: false (none), true (= 1: the one proxy in front), a hop
  // count, or express's list of addresses/CIDRs ("loopback, 10.0.0.0/8"). Never "every hop".
  trustProxy: z
    .union([z.boolean(), z.number().int().min(0).max(10), z.string().min(1)])
    .transform((v): boolean | number | string => {
      if (v === true || v === 'true' || v === 'yes') return 1;
      if (v === false || v === 'false' || v === 'no' || v === '0' || v === 0) return false;
      if (typeof v === 'number') return v;
      if (/^\d+$/.test(v)) return Number(v);
      return v;
    })
    .refine((v) => typeof v !== 'string' || isTrustedProxyList(v), 'expected true/false, a hop count, or addresses/CIDRs such as "loopback, 10.0.0.0/8"')
    .default(false),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // A client gets this long to send its request headers, and then the whole request, before the
  // connection is closed (408): slow clients cannot hold connections open.
  httpHeadersTimeoutSeconds: positiveInt(1, 3600).default(10),
  httpRequestTimeoutSeconds: positiveInt(1, 3600).default(30),
  // Sign-in providers: the password ones are tried in this order; oidc is a button in the portal.
  signIn: signInList.prefault('local'),
  // The LDAP directory (sign-in provider "ldap").
  ldapUrl: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/, 'expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]').optional(),
  ldapBindDn: z.string().min(1).max(1024).optional(),
  ldapBindPassword: z.string().min(1).max(1024).optional(),
  ldapBaseDn: z.string().min(1).max(1024).optional(),
  ldapUserFilter: z
    .string()
    .max(1024)
    .refine((f) => f.includes('{email}'), 'the filter must contain {email}, e.g. (mail={email})')
    .refine((f) => f.startsWith('(') && f.endsWith(')'), 'the filter must be parenthesised, e.g. (&(objectClass=inetOrgPerson)(mail={email}))')
    .default('(mail={email})'),
  ldapAdminGroup: z.string().min(1).max(1024).optional(),
  ldapAliasAttribute: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'expected an attribute name such as mail').default('mail'),
  ldapCaFile: z.string().min(1).optional(),
  ldapStartTls: boolish.default(false),
  // The OpenID provider (sign-in provider "oidc").
  oidcIssuer: oidcIssuer.optional(),
  oidcClientId: z.string().min(1).max(1024).optional(),
  oidcClientSecret: z.string().min(1).max(4096).optional(),
  oidcAdminClaim: oidcAdminClaim.optional(),
  oidcName: z.string().trim().min(1).max(60).optional(),
  oidcScopes: z
    .string()
    .regex(/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/, 'expected scopes separated by single spaces, e.g. "openid email profile"')
    .refine((s) => s.split(' ').includes('openid') && s.split(' ').includes('email'), 'must include openid and email')
    .default('openid email profile'),
  // The CA key in a PKCS#11 token (used by `mailca init --pkcs11`, `mailca ca rotate --pkcs11` and any CA whose key is there).
  pkcs11Module: z.string().min(1).optional(),
  pkcs11TokenLabel: z.string().min(1).max(32, 'a PKCS#11 token label has at most 32 characters').optional(),
  pkcs11Pin: z.string().min(1).optional(),
  pkcs11PinFile: z.string().min(1).optional(),
  pkcs11KeyLabel: z.string().min(1).max(128).optional(),
}).strict() // an unknown key in the config file is a mistake worth reporting, not ignoring
  .refine((c) => c.httpHeadersTimeoutSeconds <= c.httpRequestTimeoutSeconds, {
    path: ['httpHeadersTimeoutSeconds'],
    message: 'must not be longer than MAILCA_HTTP_REQUEST_TIMEOUT_SECONDS',
  })
  .refine((c) => !(c.pkcs11Pin && c.pkcs11PinFile), { path: ['pkcs11PinFile'], message: 'set the PIN or the PIN file (MAILCA_PKCS11_PIN), not both' })
  .superRefine((c, ctx) => {
    if (c.tlsCert && !c.tlsKey) ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: 'required with MAILCA_TLS_CERT (the PEM private key of that certificate)' });
    if (c.tlsKey && !c.tlsCert) ctx.addIssue({ code: 'custom', path: ['tlsCert'], message: 'required with MAILCA_TLS_KEY (the PEM certificate chain of that key)' });
  })
  .superRefine((c, ctx) => {
    if (!c.signIn.includes('ldap')) return;
    if (!c.ldapUrl) ctx.addIssue({ code: 'custom', path: ['ldapUrl'], message: 'required when MAILCA_SIGN_IN names ldap' });
    if (!c.ldapBaseDn) ctx.addIssue({ code: 'custom', path: ['ldapBaseDn'], message: 'required when MAILCA_SIGN_IN names ldap' });
    if (c.ldapBindDn && !c.ldapBindPassword) ctx.addIssue({ code: 'custom', path: ['ldapBindPassword'], message: 'required with MAILCA_LDAP_BIND_DN' });
    if (c.ldapStartTls && c.ldapUrl?.startsWith('ldaps:')) ctx.addIssue({ code: 'custom', path: ['ldapStartTls'], message: 'StartTLS is for ldap:// URLs; ldaps:// is TLS already' });
  })
  .superRefine((c, ctx) => {
    if (!c.signIn.includes('oidc')) return;
    const required = (key: 'oidcIssuer' | 'oidcClientId' | 'oidcClientSecret', what = 'required when MAILCA_SIGN_IN names oidc') => {
      if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: what });
    };
    required('oidcIssuer');
    required('oidcClientId');
    required('oidcClientSecret');
    if (!c.publicUrl) ctx.addIssue({ code: 'custom', path: ['publicUrl'], message: 'required when MAILCA_SIGN_IN names oidc: the redirect URI registered at the OpenID provider is <MAILCA_PUBLIC_URL>/api/v1/sign-in/oidc/callback' });
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Environment variable → config key. */
const ENV_KEYS: Record<string, keyof Config> = {
  MAILCA_DATA_DIR: 'dataDir',
  DATABASE_URL: 'databaseUrl',
  MAILCA_LISTEN: 'listen',
  MAILCA_TLS_CERT: 'tlsCert',
  MAILCA_TLS_KEY: 'tlsKey',
  MAILCA_PUBLIC_URL: 'publicUrl',
  MAILCA_CA_PASSPHRASE: 'caPassphrase',
  MAILCA_CA_NAME: 'caName',
  MAILCA_CA_KEY_ALG: 'caKeyAlgorithm',
  MAILCA_CA_LIFETIME_DAYS: 'caLifetimeDays',
  MAILCA_CERT_LIFETIME_DAYS: 'certLifetimeDays',
  MAILCA_CRL_LIFETIME_HOURS: 'crlLifetimeHours',
  MAILCA_EKU_EMAIL_PROTECTION: 'emailProtection',
  MAILCA_RENEWAL_WINDOW_DAYS: 'renewalWindowDays',
  MAILCA_RENEWAL_OVERLAP_DAYS: 'renewalOverlapDays',
  MAILCA_REMINDER_DAYS: 'reminderDays',
  MAILCA_SMTP_URL: 'smtpUrl',
  MAILCA_MAIL_FROM: 'mailFrom',
  MAILCA_CA_EXPIRY_WARN_DAYS: 'caExpiryWarnDays',
  MAILCA_SUBMISSION_HOST: 'submissionHost',
  MAILCA_SUBMISSION_TLS_PORT: 'submissionTlsPort',
  MAILCA_SUBMISSION_STARTTLS_PORT: 'submissionStarttlsPort',
  MAILCA_SUBMISSION_AUTH: 'submissionAuth',
  MAILCA_SESSION_SECRET: 'sessionSecret',
  MAILCA_SESSION_IDLE_MINUTES: 'sessionIdleMinutes',
  MAILCA_MAX_LONG_POLLS: 'maxLongPolls',
  MAILCA_TRUST_PROXY: 'trustProxy',
  MAILCA_LOG_LEVEL: 'logLevel',
  MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS: 'httpHeadersTimeoutSeconds',
  MAILCA_HTTP_REQUEST_TIMEOUT_SECONDS: 'httpRequestTimeoutSeconds',
  MAILCA_SIGN_IN: 'signIn',
  MAILCA_LDAP_URL: 'ldapUrl',
  MAILCA_LDAP_BIND_DN: 'ldapBindDn',
  MAILCA_LDAP_BIND_PASSWORD: 'ldapBindPassword',
  MAILCA_LDAP_BASE_DN: 'ldapBaseDn',
  MAILCA_LDAP_USER_FILTER: 'ldapUserFilter',
  MAILCA_LDAP_ADMIN_GROUP: 'ldapAdminGroup',
  MAILCA_LDAP_ALIAS_ATTRIBUTE: 'ldapAliasAttribute',
  MAILCA_LDAP_CA_FILE: 'ldapCaFile',
  MAILCA_LDAP_STARTTLS: 'ldapStartTls',
  MAILCA_OIDC_ISSUER: 'oidcIssuer',
  MAILCA_OIDC_CLIENT_ID: 'oidcClientId',
  MAILCA_OIDC_CLIENT_SECRET: 'oidcClientSecret',
  MAILCA_OIDC_ADMIN_CLAIM: 'oidcAdminClaim',
  MAILCA_OIDC_NAME: 'oidcName',
  MAILCA_OIDC_SCOPES: 'oidcScopes',
  MAILCA_PKCS11_MODULE: 'pkcs11Module',
  MAILCA_PKCS11_TOKEN_LABEL: 'pkcs11TokenLabel',
  MAILCA_PKCS11_PIN: 'pkcs11Pin',
  MAILCA_PKCS11_PIN_FILE: 'pkcs11PinFile',
  MAILCA_PKCS11_KEY_LABEL: 'pkcs11KeyLabel',
};

const keyToEnv = new Map(Object.entries(ENV_KEYS).map(([env, key]) => [key, env]));

/**
 * Reads the optional JSON config file (MAILCA_CONFIG), overlays the environment, and validates once.
 * Every bad value is reported with the variable that holds it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ConfigInput> = {}): Config {
  let fileValues: Record<string, unknown> = {};
  if (env.MAILCA_CONFIG) {
    try {
      fileValues = JSON.parse(readFileSync(env.MAILCA_CONFIG, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError('config_file', `MAILCA_CONFIG (${env.MAILCA_CONFIG}): ${(e as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [envName, key] of Object.entries(ENV_KEYS)) {
    const v = env[envName];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const parsed = configSchema.safeParse({ ...fileValues, ...fromEnv, ...overrides });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') return `${env.MAILCA_CONFIG ?? 'config'}: unknown key(s) ${issue.keys.join(', ')}`;
      const key = String(issue.path[0] ?? '');
      const env_ = keyToEnv.get(key as keyof Config);
      const where = env_ && fromEnv[key] !== undefined ? env_ : env_ ? `${env_} (or "${key}" in the config file)` : key;
      return `${where}: ${issue.message}`;
    });
    throw new ConfigError('config_invalid', `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir) };
}

export function publishDir(config: Config): string {
  return path.join(config.dataDir, 'publish');
}
