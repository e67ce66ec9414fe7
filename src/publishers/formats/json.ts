import { formatFingerprintColons } from '../../issuance/encoding.ts';
import type { ConsumerFormat } from './types.ts';

/** A JSON string: quoted as is when nothing in it needs escaping (the usual case), else JSON.stringify. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const str = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/** JSON: the full published record per certificate, the enforced users and the portal URL (for policy services). */
export const jsonFormat = {
  name: 'json',
  contentType: 'application/json; charset=utf-8',
  allowlistFile: 'allowlist.json',
  separator: ',\n',
  header: () => '{"certificates": [\n',
  // Written by hand (the same text JSON.stringify gives for these fields): a million entries a publish.
  renderEntry: (e) => {
    const owner = str(e.owner);
    return (
      `{"serial":${str(e.serial)},"fingerprint_sha256":"${formatFingerprintColons(e.fingerprintSha256)}","fingerprint_sha256_hex":${str(e.fingerprintSha256)},` +
      `"pubkey_sha256":"${formatFingerprintColons(e.spkiSha256)}","pubkey_sha256_hex":${str(e.spkiSha256)},"address":${owner},"owner":${owner},` +
      `"senders":[${e.senders.map(str).join(',')}],"subject":${str(e.subject)},"not_after":"${e.notAfter.toISOString()}","status":"active","migration":${str(e.migration)}}`
    );
  },
  footer: (ctx) => {
    const enforced: string[] = [];
    for (const u of ctx.users) if (u.enforcement.state === 'enforced') enforced.push(u.email);
    return `
],
"enforced_users": ${JSON.stringify(enforced)},
"portal_url": ${JSON.stringify(ctx.portalUrl)}}
`;
  },
  // No MTA reads it: the pull client's policy service does, with the Postfix senders table for its socketmap.
  pull: { sendersFrom: 'postfix', policyService: true },
} satisfies ConsumerFormat;
