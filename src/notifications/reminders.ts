import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { DAY_MS, MINUTE_MS } from '../clock.ts';
import type { CertificateRecord, Store } from '../store/index.ts';
import { formatFingerprintColons } from '../issuance/encoding.ts';
import type { Mail, Mailer } from './mailer.ts';

export const RETRY_AFTER_FAILURE_MS = 15 * MINUTE_MS;
const DIGEST_HORIZON_DAYS = 30;

export interface ReminderDeps {
  store: Store;
  clock: Clock;
  mailer: Mailer;
  log: Logger;
  portalUrl: string;
  /** Days before expiry at which to remind, e.g. [30, 7, 1]. */
  reminderDays: readonly number[];
  caExpiryWarnDays: number;
}

export interface ReminderRun {
  sent: string[];
  failed: string[];
}

const day = (d: Date) => d.toISOString().slice(0, 10);

function expiryMail(c: CertificateRecord, mark: number, portalUrl: string): Mail {
  const device = c.deviceLabel ? `"${c.deviceLabel}"` : 'one of your devices';
  return {
    to: c.email,
    subject: `Your mail certificate for ${c.deviceLabel ?? c.email} expires on ${day(c.notAfter)}`,
    text: [
      `Hello,`,
      ``,
      `the certificate your mail client on ${device} uses to send mail as ${c.email} expires`,
      `on ${c.notAfter.toUTCString()} (in about ${mark} day${mark === 1 ? '' : 's'}).`,
      ``,
      `Renew it at ${portalUrl} : sign in, choose "Renew" next to this certificate, and install the`,
      `new file on this device. The old certificate keeps working for a few days while you switch.`,
      ``,
      `Certificate serial: ${c.serial}`,
      `SHA-256 fingerprint: ${formatFingerprintColons(c.fingerprintSha256)}`,
      ``,
      `-- mailca`,
    ].join('\n'),
  };
}

/** Sends `mail` once under `key`: claimed in the mail log first, retried later if it fails. */
async function sendOnce(deps: ReminderDeps, key: string, mail: Mail, run: ReminderRun): Promise<void> {
  const now = deps.clock.now();
  if (!(await deps.store.mailLog.claim(key, mail.to, now))) return;
  try {
    await deps.mailer.send(mail);
    await deps.store.mailLog.markSent(key, deps.clock.now());
    run.sent.push(key);
  } catch (e) {
    const message = (e as Error).message;
    await deps.store.mailLog.markFailed(key, message, new Date(now.getTime() + RETRY_AFTER_FAILURE_MS));
    deps.log.warn({ key, to: mail.to, err: message }, 'mail failed; will retry');
    run.failed.push(key);
  }
}

/**
 * One mail per certificate per reminder mark. A certificate gets the most urgent mark it has
 * reached (earlier marks it passed meanwhile are skipped), and only marks shorter than its lifetime.
 */
export async function sendExpiryReminders(deps: ReminderDeps, run: ReminderRun = { sent: [], failed: [] }): Promise<ReminderRun> {
  const marks = [...deps.reminderDays].sort((a, b) => a - b);
  const longest = marks[marks.length - 1];
  if (longest === undefined) return run;
  const now = deps.clock.now();
  const candidates = await deps.store.certificates.listExpiringUnrenewed(now, new Date(now.getTime() + longest * DAY_MS));
  for (const c of candidates) {
    const remaining = c.notAfter.getTime() - now.getTime();
    const lifetime = c.notAfter.getTime() - c.notBefore.getTime();
    const reached = marks.filter((m) => remaining <= m * DAY_MS && lifetime > m * DAY_MS);
    const [mostUrgent, ...passed] = reached;
    if (mostUrgent === undefined) continue;
    for (const m of passed) await deps.store.mailLog.markSkipped(`expiry:${c.serial}:${m}`, c.email);
    await sendOnce(deps, `expiry:${c.serial}:${mostUrgent}`, expiryMail(c, mostUrgent, deps.portalUrl), run);
  }
  return run;
}

/** CAs (not retired) expiring within the warning period. */
export async function expiringCas(deps: Pick<ReminderDeps, 'store' | 'clock' | 'caExpiryWarnDays'>) {
  const horizon = deps.clock.now().getTime() + deps.caExpiryWarnDays * DAY_MS;
  return (await deps.store.cas.listTrusted()).filter((ca) => ca.notAfter.getTime() <= horizon);
}

/** Once a day, to each admin: what expires in the next 30 days, and any CA near its own expiry. */
export async function sendAdminDigest(deps: ReminderDeps, run: ReminderRun = { sent: [], failed: [] }): Promise<ReminderRun> {
  const now = deps.clock.now();
  const expiring = await deps.store.certificates.listExpiringUnrenewed(now, new Date(now.getTime() + DIGEST_HORIZON_DAYS * DAY_MS));
  const cas = await expiringCas(deps);
  if (expiring.length === 0 && cas.length === 0) return run;
  const lines = [`mailca daily digest for ${day(now)}`, ``];
  for (const ca of cas) lines.push(`WARNING: CA "${ca.name}" (id ${ca.id}) expires on ${ca.notAfter.toUTCString()}: run \`mailca ca rotate\` well before then.`, ``);
  lines.push(`${expiring.length} certificate(s) expire in the next ${DIGEST_HORIZON_DAYS} days without a renewal:`);
  for (const c of expiring.slice(0, 200)) lines.push(`  ${day(c.notAfter)}  ${c.email}  ${c.deviceLabel ?? ''}  ${c.serial}`.trimEnd());
  if (expiring.length > 200) lines.push(`  … and ${expiring.length - 200} more (mailca list --status active)`);
  const text = lines.join('\n') + '\n';
  const admins = (await deps.store.users.list()).filter((u) => u.isAdmin && !u.disabledAt);
  for (const a of admins) {
    await sendOnce(deps, `digest:${day(now)}:${a.email}`, { to: a.email, subject: `mailca digest ${day(now)}: ${expiring.length} expiring, ${cas.length} CA warning(s)`, text }, run);
  }
  return run;
}

/** After a CA rollover: asks every holder of a valid certificate from `caId` to renew now (once each). */
export async function sendRenewalPrompts(deps: ReminderDeps, caId: number, run: ReminderRun = { sent: [], failed: [] }): Promise<ReminderRun> {
  for (const c of await deps.store.certificates.listActiveForCa(caId, deps.clock.now())) {
    if (c.renewedBy) continue;
    const device = c.deviceLabel ? `"${c.deviceLabel}"` : 'one of your devices';
    await sendOnce(
      deps,
      `renew-prompt:${caId}:${c.serial}`,
      {
        to: c.email,
        subject: `Please renew your mail certificate for ${c.deviceLabel ?? c.email}`,
        text: [
          `Hello,`,
          ``,
          `mail certificates are now issued by a new certificate authority. The certificate your mail`,
          `client on ${device} uses (serial ${c.serial}, valid until ${day(c.notAfter)}) comes from the`,
          `old one, which will be retired.`,
          ``,
          `Please renew it now at ${deps.portalUrl} : sign in, choose "Renew" next to this certificate,`,
          `and install the new file. The old certificate keeps working for a few days while you switch.`,
          ``,
          `-- mailca`,
        ].join('\n'),
      },
      run,
    );
  }
  return run;
}
