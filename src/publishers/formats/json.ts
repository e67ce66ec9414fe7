import { formatFingerprintColons } from '../../issuance/encoding.ts';
import type { ConsumerFormat } from './types.ts';

/** JSON: the full published record per certificate, the enforced users and the portal URL (for policy services). */
export const jsonFormat: ConsumerFormat = {
  name: 'json',
  contentType: 'application/json; charset=utf-8',
  allowlistFile: 'allowlist.json',
  separator: ',\n',
  header: () => '{"certificates": [\n',
  renderEntry: (e) =>
    JSON.stringify({
      serial: e.serial,
      fingerprint_sha256: formatFingerprintColons(e.fingerprintSha256),
      fingerprint_sha256_hex: e.fingerprintSha256,
      pubkey_sha256: formatFingerprintColons(e.spkiSha256),
      pubkey_sha256_hex: e.spkiSha256,
      address: e.owner,
      owner: e.owner,
      senders: e.senders,
      subject: e.subject,
      not_after: e.notAfter.toISOString(),
      status: 'active',
      migration: e.migration,
    }),
  footer: (ctx) =>
    `\n],\n"enforced_users": ${JSON.stringify(ctx.users.filter((u) => u.enforcement.state === 'enforced').map((u) => u.email))},\n"portal_url": ${JSON.stringify(ctx.portalUrl)}}\n`,
};
