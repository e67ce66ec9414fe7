import { dovecotMtaConfig } from '../mta-config/dovecot.ts';
import { oneLine, type ConsumerFormat } from './types.ts';

/**
 * Dovecot (IMAP): passwd-files. The allow-list is keyed by the certificate's subject serialNumber (the serial in
 * lowercase hex, unique per certificate), which Dovecot takes as the login name with
 * `auth_ssl_username_from_cert = yes` and `ssl_cert_username_field = serialNumber`; `nopassword=yes` lets the
 * certificate stand in for the password and `user=<address>` makes the owner's address the login (their mailbox).
 * Dovecot re-reads a passwd-file when it changes, so a revocation applies at the next login, no reload.
 * The enforcement file lists enforced users for a `deny = yes` passdb before the password one.
 */
/** The Dovecot files in `<data dir>/publish/`. */
export const DOVECOT_FILES = { allowlist: 'allowlist.dovecot', enforcement: 'enforcement.dovecot' } as const;

/** Dovecot expands %variables in passwd-file extra fields: a literal % is %%. */
const extraFieldValue = (s: string): string => oneLine(s).replaceAll('%', '%%');

export const dovecotFormat = {
  name: 'dovecot',
  contentType: 'text/plain; charset=utf-8',
  allowlistFile: DOVECOT_FILES.allowlist,
  separator: '',
  header: () => '# mailca: client certificates that log in to IMAP (passwd-file; key = the subject serialNumber, ssl_cert_username_field = serialNumber)\n',
  renderEntry: (e) => `${e.serial}:::::::nopassword=yes user=${extraFieldValue(e.owner)}\n`,
  footer: () => '',
  enforcement: {
    file: DOVECOT_FILES.enforcement,
    render(ctx) {
      const lines = ['# mailca: users who must present a client certificate (passwd-file for a passdb with deny = yes, keyed by login)'];
      for (const u of ctx.users) if (u.enforcement.state === 'enforced') lines.push(`${oneLine(u.email)}:`);
      return lines.join('\n') + '\n';
    },
  },
  mtaConfig: dovecotMtaConfig,
  // Dovecot's ssl_ca holds the CA certificates followed by their CRLs.
  pull: { caCrl: true },
} satisfies ConsumerFormat;
