import { Command, Option } from 'commander';
import { caOverview, retireCa } from '../enrolment/ca-rollover.ts';
import { audit } from '../enrolment/context.ts';
import { rotateCa } from '../issuance/authority.ts';
import { portalUrl } from '../main.ts';
import { sendRenewalPrompts } from '../notifications/reminders.ts';
import { formatFingerprintColons } from '../issuance/encoding.ts';
import { CliError, cliActor, describeCaKey, keyStorageFlag, PKCS11_FLAG_HELP, withMailca } from './common.ts';

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '-');

function caId(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`"${v}" is not a CA id (see mailca ca list)`);
  return n;
}

/** `mailca ca …`: CA rollover without an outage. */
export function caCommand(): Command {
  const ca = new Command('ca').description('CA rollover: rotate, list, retire, prompt renewals');

  ca.command('rotate')
    .description('create a new CA that issues from now on; the old one keeps being trusted until its certificates are renewed or expire')
    .addOption(new Option('--key-alg <alg>', 'key algorithm of the new CA').choices(['P-256', 'P-384', 'RSA-3072']))
    .option('--name <name>', 'subject CN of the new CA (default: MAILCA_CA_NAME and the date)')
    .option('--cross-sign', 'also certify the new CA key with the old CA', false)
    .option('--pkcs11', PKCS11_FLAG_HELP, false)
    .action(async (o: { keyAlg?: 'P-256' | 'P-384' | 'RSA-3072'; name?: string; crossSign: boolean; pkcs11: boolean }) => {
      await withMailca(async (m) => {
        if (!(await m.store.cas.findActive())) throw new CliError('there is no CA yet: run `mailca init` first');
        const now = m.ctx.clock.now();
        const { ca: fresh, previous } = await rotateCa(m.store, m.keyring, {
          name: o.name ?? `${m.config.caName} ${now.toISOString().slice(0, 10)}`,
          keyAlgorithm: o.keyAlg ?? m.config.caKeyAlgorithm,
          lifetimeDays: m.config.caLifetimeDays,
          clock: m.ctx.clock,
          crossSign: o.crossSign,
          keyStorage: keyStorageFlag(o.pkcs11),
        });
        await audit(m.ctx, cliActor(), 'ca.rotate', String(fresh.id), { name: fresh.name, key: fresh.keyAlgorithm, key_location: fresh.key.kind, previous: previous?.id ?? null, cross_signed: Boolean(fresh.crossCertificatePem) });
        await m.publisher.publish();
        console.log(`new CA ${fresh.id} "${fresh.name}" (${fresh.keyAlgorithm}${describeCaKey(fresh)}) issues from now on; SHA-256 ${formatFingerprintColons(fresh.fingerprintSha256)}`);
        if (previous) console.log(`CA ${previous.id} "${previous.name}" is retiring: trusted until its certificates are renewed or expire (mailca ca list)`);
        if (fresh.crossCertificatePem) process.stdout.write(`cross-certificate (new CA key signed by CA ${previous?.id}):\n${fresh.crossCertificatePem}`);
      });
    });

  ca.command('list')
    .description("each CA's state (active / retiring / retired), certificates left, and when it can be retired")
    .action(async () => {
      await withMailca(async (m) => {
        console.log(['id', 'state', 'key', 'expires', 'certs left', 'retirable from', 'name'].join('\t'));
        for (const o of await caOverview(m.ctx)) {
          console.log([o.ca.id, o.state, o.ca.keyAlgorithm, day(o.ca.notAfter), o.certificatesLeft, o.state === 'active' ? '(issuing)' : day(o.retirableFrom), o.ca.name].join('\t'));
        }
      });
    });

  ca.command('retire')
    .description('stop trusting a CA that no longer issues; refused while it has valid certificates unless --force (which revokes them)')
    .argument('<id>', 'CA id (mailca ca list)')
    .option('--force', 'revoke its remaining certificates (cessationOfOperation)', false)
    .action(async (id: string, o: { force: boolean }) => {
      await withMailca(async (m) => {
        const { ca: retired, revoked } = await retireCa(m.ctx, cliActor(), { id: caId(id), force: o.force });
        console.log(`retired CA ${retired.id} "${retired.name}"${revoked.length ? `; revoked ${revoked.length} certificate(s)` : ''}`);
      });
    });

  ca.command('notify-renew')
    .description('mail every holder of a valid certificate from this CA, asking them to renew now')
    .argument('<id>', 'CA id (mailca ca list)')
    .action(async (id: string) => {
      await withMailca(async (m) => {
        if (!m.mailer) throw new CliError('MAILCA_SMTP_URL is not set: cannot send mail');
        const run = await sendRenewalPrompts(
          { store: m.store, clock: m.ctx.clock, mailer: m.mailer, log: m.log, portalUrl: portalUrl(m.config), reminderDays: m.config.reminderDays, caExpiryWarnDays: m.config.caExpiryWarnDays },
          caId(id),
        );
        console.log(`sent ${run.sent.length} renewal request(s)${run.failed.length ? `; ${run.failed.length} failed (run again later)` : ''}`);
      });
    });
  return ca;
}
