import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

const file = (content: unknown) => {
  const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'mailca-cfg-')), 'mailca.json');
  writeFileSync(f, JSON.stringify(content));
  return f;
};

/** The message loadConfig refuses `env` with, or '' if it takes it. */
const problem = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
};

describe('configuration', () => {
  it('has defaults, reads the environment and a JSON file, and the environment wins', () => {
    const d = loadConfig({});
    expect(d).toMatchObject({ listen: { host: '127.0.0.1', port: 8080 }, certLifetimeDays: 365, reminderDays: [30, 7, 1], trustProxy: false });
    const c = loadConfig({ MAILCA_CONFIG: file({ caKeyAlgorithm: 'P-384', certLifetimeDays: 90, reminderDays: '14, 2' }), MAILCA_CERT_LIFETIME_DAYS: '30', MAILCA_TRUST_PROXY: 'true' });
    expect(c).toMatchObject({ caKeyAlgorithm: 'P-384', certLifetimeDays: 30, reminderDays: [14, 2], trustProxy: 1 });
    expect(loadConfig({ MAILCA_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('names every bad value, and refuses unknown keys in the file', () => {
    let message = '';
    try {
      loadConfig({ MAILCA_LISTEN: 'nowhere', DATABASE_URL: 'mysql://x', MAILCA_CA_KEY_ALG: 'DSA', MAILCA_REMINDER_DAYS: 'soon' });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const v of ['MAILCA_LISTEN', 'DATABASE_URL', 'MAILCA_CA_KEY_ALG', 'MAILCA_REMINDER_DAYS']) expect(message).toMatch(new RegExp(`^  ${v}: `, 'm'));
    expect(() => loadConfig({ MAILCA_CONFIG: file({ caKeyAlg: 'P-384' }) })).toThrow(/unknown key\(s\) caKeyAlg/);
    expect(() => loadConfig({ MAILCA_CONFIG: file({ certLifetimeDays: 0 }) })).toThrow(/MAILCA_CERT_LIFETIME_DAYS \(or "certLifetimeDays" in the config file\)/);
    expect(() => loadConfig({ MAILCA_CONFIG: '/nonexistent.json' })).toThrow(/MAILCA_CONFIG/);
  });

  it('accepts only what express can trust in MAILCA_TRUST_PROXY', () => {
    for (const ok of ['loopback', 'loopback, linklocal, uniquelocal', '10.0.0.0/8', '192.168.1.1/255.255.255.0', '::1', 'fe80::/10, 127.0.0.1', '2', 'false', 'no']) {
      expect(() => loadConfig({ MAILCA_TRUST_PROXY: ok }), ok).not.toThrow();
    }
    for (const bad of ['maybe', 'loopback, maybe', '10.0.0.0/33', '::1/129', '10.0.0.0/8/8', '10.0.0.999', 'localhost', ', ', '::1/255.0.0.0']) {
      expect(() => loadConfig({ MAILCA_TRUST_PROXY: bad }), bad).toThrow(/^invalid configuration:\n  MAILCA_TRUST_PROXY: /);
    }
  });

  it('has header and request timeouts for slow clients, named when wrong', () => {
    expect(loadConfig({})).toMatchObject({ httpHeadersTimeoutSeconds: 10, httpRequestTimeoutSeconds: 30 });
    expect(loadConfig({ MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS: '5', MAILCA_HTTP_REQUEST_TIMEOUT_SECONDS: '60' })).toMatchObject({ httpHeadersTimeoutSeconds: 5, httpRequestTimeoutSeconds: 60 });
    expect(() => loadConfig({ MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS: 'soon' })).toThrow(/MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS: /);
    expect(() => loadConfig({ MAILCA_HTTP_REQUEST_TIMEOUT_SECONDS: '0' })).toThrow(/MAILCA_HTTP_REQUEST_TIMEOUT_SECONDS: /);
    expect(() => loadConfig({ MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS: '40' })).toThrow(/MAILCA_HTTP_HEADERS_TIMEOUT_SECONDS.*must not be longer than MAILCA_HTTP_REQUEST_TIMEOUT_SECONDS/);
  });

  it('reads MAILCA_SIGN_IN as an ordered list of the providers this build has', () => {
    expect(loadConfig({}).signIn).toEqual(['local']);
    const ldap = { MAILCA_LDAP_URL: 'ldap://127.0.0.1:389', MAILCA_LDAP_BASE_DN: 'ou=people,dc=example,dc=org' };
    const c = loadConfig({ MAILCA_SIGN_IN: 'LDAP, local', ...ldap });
    expect(c).toMatchObject({ signIn: ['ldap', 'local'], ldapUserFilter: '(mail={email})', ldapAliasAttribute: 'mail', ldapStartTls: false });
    expect(loadConfig({ MAILCA_CONFIG: file({ signIn: ['local', 'ldap'], ldapUrl: 'ldaps://dir.example.org', ldapBaseDn: 'dc=example,dc=org' }) }).signIn).toEqual(['local', 'ldap']);

    expect(problem({ MAILCA_SIGN_IN: 'kerberos' })).toMatch(/^  MAILCA_SIGN_IN: unknown sign-in provider "kerberos"/m);
    expect(problem({ MAILCA_SIGN_IN: 'local,local' })).toMatch(/^  MAILCA_SIGN_IN: a sign-in provider is named twice/m);
    expect(problem({ MAILCA_SIGN_IN: 'ldap' })).toMatch(/^  MAILCA_LDAP_URL .*required when MAILCA_SIGN_IN names ldap/m);
    expect(problem({ MAILCA_SIGN_IN: 'ldap' })).toMatch(/^  MAILCA_LDAP_BASE_DN .*required/m);
    expect(problem({ MAILCA_SIGN_IN: 'ldap', ...ldap, MAILCA_LDAP_BIND_DN: 'cn=mailca,dc=example,dc=org' })).toMatch(/MAILCA_LDAP_BIND_PASSWORD .*required with MAILCA_LDAP_BIND_DN/);
    expect(problem({ MAILCA_SIGN_IN: 'ldap', ...ldap, MAILCA_LDAP_USER_FILTER: '(uid=alice)' })).toMatch(/^  MAILCA_LDAP_USER_FILTER: the filter must contain \{email\}/m);
    expect(problem({ MAILCA_SIGN_IN: 'ldap', ...ldap, MAILCA_LDAP_URL: 'http://dir' })).toMatch(/^  MAILCA_LDAP_URL: expected ldap:/m);
  });

  it('requires the OpenID provider, its client and the public URL for oidc, and checks them', () => {
    const oidc = { MAILCA_SIGN_IN: 'local,oidc', MAILCA_PUBLIC_URL: 'https://ca.example.org', MAILCA_OIDC_ISSUER: 'https://login.example.org/realms/mail', MAILCA_OIDC_CLIENT_ID: 'mailca', MAILCA_OIDC_CLIENT_SECRET: 'secret' };
    expect(loadConfig(oidc)).toMatchObject({ signIn: ['local', 'oidc'], oidcScopes: 'openid email profile' });
    expect(loadConfig({ ...oidc, MAILCA_OIDC_ADMIN_CLAIM: 'groups=mail admins' }).oidcAdminClaim).toEqual({ claim: 'groups', value: 'mail admins' });
    expect(loadConfig({ ...oidc, MAILCA_OIDC_ADMIN_CLAIM: 'https://example.org/roles=a=b' }).oidcAdminClaim).toEqual({ claim: 'https://example.org/roles', value: 'a=b' });
    // Plain http only on this machine.
    for (const ok of ['http://127.0.0.1:8081', 'http://localhost:8081/idp', 'http://[::1]:8081']) expect(() => loadConfig({ ...oidc, MAILCA_OIDC_ISSUER: ok }), ok).not.toThrow();

    const missing = problem({ MAILCA_SIGN_IN: 'oidc' });
    for (const v of ['MAILCA_OIDC_ISSUER', 'MAILCA_OIDC_CLIENT_ID', 'MAILCA_OIDC_CLIENT_SECRET']) expect(missing).toMatch(new RegExp(`^  ${v} .*required when MAILCA_SIGN_IN names oidc`, 'm'));
    expect(missing).toMatch(/^  MAILCA_PUBLIC_URL .*required when MAILCA_SIGN_IN names oidc: the redirect URI registered at the OpenID provider is <MAILCA_PUBLIC_URL>\/api\/v1\/sign-in\/oidc\/callback/m);
    expect(problem({ ...oidc, MAILCA_OIDC_ISSUER: 'http://login.example.org' })).toMatch(/^  MAILCA_OIDC_ISSUER: must be https:\/\//m);
    expect(problem({ ...oidc, MAILCA_OIDC_ISSUER: 'login.example.org' })).toMatch(/^  MAILCA_OIDC_ISSUER: expected the issuer URL/m);
    expect(problem({ ...oidc, MAILCA_OIDC_ISSUER: 'https://u:p@login.example.org' })).toMatch(/^  MAILCA_OIDC_ISSUER: the issuer URL has no user name/m);
    for (const bad of ['groups', 'groups=', '=admins', 'a b=c']) expect(problem({ ...oidc, MAILCA_OIDC_ADMIN_CLAIM: bad }), bad).toMatch(/^  MAILCA_OIDC_ADMIN_CLAIM: expected CLAIM=VALUE/m);
    expect(problem({ ...oidc, MAILCA_OIDC_SCOPES: 'email profile' })).toMatch(/^  MAILCA_OIDC_SCOPES: must include openid and email/m);
    expect(problem({ ...oidc, MAILCA_OIDC_SCOPES: 'openid  email' })).toMatch(/^  MAILCA_OIDC_SCOPES: expected scopes separated by single spaces/m);
    // Not needed without oidc.
    expect(() => loadConfig({ MAILCA_SIGN_IN: 'local' })).not.toThrow();
  });
});
