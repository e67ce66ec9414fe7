import { oneLine, type ConsumerFormat } from './types.ts';

/**
 * Exim: lsearch files. Allow-list keys are upper-case hex without colons (lsearch cuts unquoted keys
 * at ':'); the value is the colon list of senders, owner first (`HEX: owner : alias`), so
 * `senders = ${lookup{…}}` compares MAIL FROM with it.
 */
/** The Exim files in `<data dir>/publish/`. */
export const EXIM_FILES = { allowlist: 'allowlist.exim', enforcement: 'enforcement.exim' } as const;

export const eximFormat: ConsumerFormat = {
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
};
