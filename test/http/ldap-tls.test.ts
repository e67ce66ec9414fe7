import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { LdapDirectory, ldapSettingsFromConfig } from '../../src/directory/ldap-directory.ts';
import { ServiceUnavailable } from '../../src/errors.ts';
import { personDn, TestDirectory } from '../helpers/ldap.ts';
import { HttpClient, startServer } from '../helpers/mailca.ts';

// A private slapd that requires TLS for every operation: ldaps://, or ldap:// after StartTLS.
let ldap: TestDirectory;
const HANK = { uid: 'hank', mail: ['hank@example.test'], password: 'hank directory password' };

beforeAll(async () => {
  ldap = await TestDirectory.start({ people: [HANK], admins: [], tls: true });
});
afterAll(async () => {
  await ldap?.stop();
});

const directory = (env: Record<string, string>) => {
  const settings = ldapSettingsFromConfig(loadConfig({ MAILCA_SIGN_IN: 'ldap', ...ldap.env(), ...env }));
  return new LdapDirectory(settings!);
};

describe('directory sign-in over TLS', () => {
  it('signs in over HTTP with StartTLS and the configured CA', async () => {
    const srv = await startServer({ signIn: 'ldap', ...ldap.config(), ldapStartTls: true, ldapCaFile: ldap.caFile });
    try {
      const res = await new HttpClient(srv.url).login('hank@example.test', HANK.password);
      expect(res.status, res.text).toBe(200);
      expect(await srv.m.store.users.findByEmail('hank@example.test')).toMatchObject({ identityProvider: 'ldap', identitySubject: personDn('hank') });
    } finally {
      await srv.stop();
    }
  });

  it('reads the directory over ldaps:// with the configured CA', async () => {
    const d = directory({ MAILCA_LDAP_URL: ldap.ldapsUrl!, MAILCA_LDAP_CA_FILE: ldap.caFile! });
    expect(await d.findByAddress('hank@example.test')).toMatchObject({ status: 'found', entry: { dn: personDn('hank'), address: 'hank@example.test' } });
    expect(await d.findByAddress('nobody@example.test')).toEqual({ status: 'absent' });
    expect(await d.checkPassword(personDn('hank'), HANK.password)).toBe(true);
    expect(await d.checkPassword(personDn('hank'), 'wrong')).toBe(false);
  });

  it('is unavailable, not "no such user", without TLS or with a server certificate it does not trust', async () => {
    // The directory refuses plain operations (confidentiality required).
    await expect(directory({}).findByAddress('hank@example.test')).rejects.toBeInstanceOf(ServiceUnavailable);
    // The system trust store does not know the test CA.
    await expect(directory({ MAILCA_LDAP_URL: ldap.ldapsUrl! }).findByAddress('hank@example.test')).rejects.toBeInstanceOf(ServiceUnavailable);
    await expect(directory({ MAILCA_LDAP_STARTTLS: 'true' }).findByAddress('hank@example.test')).rejects.toThrow(/directory cannot be reached \(StartTLS/);
    // A trusted certificate for another host: the server's is for 127.0.0.1 only.
    const byName = ldap.ldapsUrl!.replace('127.0.0.1', 'localhost');
    await expect(directory({ MAILCA_LDAP_URL: byName, MAILCA_LDAP_CA_FILE: ldap.caFile! }).findByAddress('hank@example.test')).rejects.toThrow(/ERR_TLS_CERT_ALTNAME_INVALID/);
    await expect(directory({ MAILCA_LDAP_URL: ldap.url.replace('127.0.0.1', 'localhost'), MAILCA_LDAP_STARTTLS: 'true', MAILCA_LDAP_CA_FILE: ldap.caFile! }).findByAddress('hank@example.test')).rejects.toThrow(/ERR_TLS_CERT_ALTNAME_INVALID/);
  });
});
