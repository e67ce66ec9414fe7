import { eximMtaConfig } from '../mta-config/exim.ts';
import { oneLine, type ConsumerFormat } from './types.ts';

/**
 * Exim: lsearch files. Allow-list keys are upper-case hex without colons (lsearch cuts unquoted keys
 * at ':'); the value is the colon list of senders, owner first (`HEX: owner : alias`), so
 * `senders = ${lookup{…}}` compares MAIL FROM with it. Password users are bound the same way by a login → senders
 * map (`login: owner : alias`, keyed by `$authenticated_id`).
 */
/** The Exim files in `<data dir>/publish/`. */
export const EXIM_FILES = { allowlist: 'allowlist.exim', enforcement: 'enforcement.exim', senderLogins: 'senders.exim' } as const;

export const eximFormat = {
  name: 'exim',
  contentType: 'text/plain; charset=utf-8',
  allowlistFile: EXIM_FILES.allowlist,
  separator: '',
  header: () => '# mailca: client certificates allowed to submit mail; key = ${sha256:$tls_in_peercert}, value = owner : sender aliases\n',
  renderEntry: (e) => `${e.fingerprintSha256.toUpperCase()}: ${e.senders.map(oneLine).join(' : ')}\n`,
  footer: () => '',
  enforcement: {
    file: EXIM_FILES.enforcement,
    render(ctx) {
      const lines = ['# mailca: users who must present a client certificate; key = $authenticated_id'];
      for (const u of ctx.users) if (u.enforcement.state === 'enforced') lines.push(`${oneLine(u.email)}: enforced`);
      return lines.join('\n') + '\n';
    },
  },
  senderLogins: {
    file: EXIM_FILES.senderLogins,
    render(ctx) {
      // The addresses each login may send as with a password, owner first: `senders = : ${lookup{$authenticated_id}…}`.
      const lines = ['# mailca: the addresses each login may send as; key = $authenticated_id, value = owner : sender aliases'];
      for (const u of ctx.users) lines.push(`${oneLine(u.email)}: ${u.senders.map(oneLine).join(' : ')}`);
      return lines.join('\n') + '\n';
    },
  },
  mtaConfig: eximMtaConfig,
  pull: {},
} satisfies ConsumerFormat;
