import { formatFingerprintColons } from '../../issuance/encoding.ts';
import { postfixMtaConfig } from '../mta-config/postfix.ts';
import { enrolMessage, oneLine, type ConsumerFormat } from './types.ts';

/**
 * Postfix: an access(5) table for check_ccert_access (`AB:CD:… OK`, sha256 fingerprints), a
 * check_sasl_access table of enforced logins, and an smtpd_sender_login_maps table (sender → logins).
 */
/** The Postfix files in `<data dir>/publish/`. */
export const POSTFIX_FILES = { allowlist: 'allowlist.postfix', enforcement: 'enforcement.postfix', senderLogins: 'senders.postfix' } as const;

export const postfixFormat = {
  name: 'postfix',
  contentType: 'text/plain; charset=utf-8',
  allowlistFile: POSTFIX_FILES.allowlist,
  separator: '',
  header: () => '# mailca: client certificates allowed to submit mail (check_ccert_access, sha256)\n',
  renderEntry: (e) => `# ${oneLine(e.owner)} serial ${e.serial} expires ${e.notAfter.toISOString()}\n${formatFingerprintColons(e.fingerprintSha256)} OK\n`,
  footer: () => '',
  enforcement: {
    file: POSTFIX_FILES.enforcement,
    render(ctx) {
      const lines = ['# mailca: users who must present a client certificate (check_sasl_access, keyed by SASL login)'];
      for (const u of ctx.users) if (u.enforcement.state === 'enforced') lines.push(`${oneLine(u.email)} REJECT 5.7.1 ${enrolMessage(ctx.portalUrl)}`);
      return lines.join('\n') + '\n';
    },
  },
  senderLogins: {
    file: POSTFIX_FILES.senderLogins,
    render(ctx) {
      // smtpd_sender_login_maps: MAIL FROM address → the SASL logins that may use it.
      const owners = new Map<string, string[]>();
      for (const u of ctx.users) for (const s of u.senders) owners.set(s, [...(owners.get(s) ?? []), u.email]);
      const lines = ['# mailca: sender addresses and the logins that may use them (smtpd_sender_login_maps)'];
      for (const s of [...owners.keys()].sort()) lines.push(`${oneLine(s)} ${owners.get(s)!.map(oneLine).join(',')}`);
      return lines.join('\n') + '\n';
    },
  },
  mtaConfig: postfixMtaConfig,
  pull: {},
} satisfies ConsumerFormat;
