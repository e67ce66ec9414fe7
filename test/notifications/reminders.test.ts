import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, MINUTE_MS } from '../../src/clock.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { maintenanceTick, openMailca } from '../../src/main.ts';
import { addTestUser, opensslCsr, startMailca, testActor, testConfig } from '../helpers/mailca.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

let sink: Awaited<ReturnType<typeof startSmtpSink>>;
let env: Awaited<ReturnType<typeof startMailca>>;
let dir: string;

beforeAll(async () => {
  sink = await startSmtpSink();
  env = await startMailca({ certLifetimeDays: 90, reminderDays: '30,7,1', smtpUrl: `smtp://127.0.0.1:${sink.port}`, publicUrl: 'https://mailca.example.test', mailFrom: 'mailca@example.test' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-remind-'));
});
afterAll(async () => {
  await env?.stop();
  await sink?.stop();
});

const mailsTo = (addr: string, subject = /expires/) => sink.received.filter((m) => m.to.includes(addr) && subject.test(m.subject));

describe('expiry reminders', () => {
  it('mails once per reminder mark through real SMTP, survives restarts and a second instance, and retries after a failure', async () => {
    await addTestUser(env.m, 'root@example.test', { admin: true });
    const bob = await addTestUser(env.m, 'bob@example.test');
    const { record } = await enrol(env.m.ctx, testActor, { user: bob, csr: opensslCsr(dir, 'bob').csrPem, deviceLabel: 'Laptop Thunderbird' });

    await maintenanceTick(env.m);
    expect(mailsTo('bob@example.test')).toHaveLength(0); // 90 days left: nothing yet

    env.clock.set(new Date(record.notAfter.getTime() - 30 * DAY_MS + MINUTE_MS));
    await maintenanceTick(env.m);
    const first = mailsTo('bob@example.test');
    expect(first).toHaveLength(1);
    expect(first[0]!.from).toBe('mailca@example.test');
    expect(first[0]!.subject).toContain('Laptop Thunderbird');
    expect(first[0]!.subject).toContain(record.notAfter.toISOString().slice(0, 10));
    expect(first[0]!.raw).toContain('https://mailca.example.test/');
    expect(first[0]!.raw).toContain(record.serial);

    // Again, after a restart, and from a second instance on the same database at the same time: no duplicates.
    await maintenanceTick(env.m);
    const config = testConfig(env.db, { certLifetimeDays: 90, reminderDays: '30,7,1', smtpUrl: `smtp://127.0.0.1:${sink.port}` });
    const restarted = await openMailca(config, { clock: env.clock, log: pino({ level: 'silent' }) });
    const second = await openMailca(config, { clock: env.clock, log: pino({ level: 'silent' }) });
    try {
      await Promise.all([maintenanceTick(restarted), maintenanceTick(second)]);
      expect(mailsTo('bob@example.test')).toHaveLength(1);

      // The 7-day mark while the SMTP server refuses: recorded as failed, retried later, sent once.
      env.clock.set(new Date(record.notAfter.getTime() - 7 * DAY_MS + MINUTE_MS));
      sink.setFailing(true);
      await maintenanceTick(restarted);
      expect(mailsTo('bob@example.test')).toHaveLength(1);
      expect(await env.m.store.mailLog.find(`expiry:${record.serial}:7`)).toMatchObject({ status: 'failed', attempts: 1 });
      sink.setFailing(false);
      await maintenanceTick(second); // too early for the retry
      expect(mailsTo('bob@example.test')).toHaveLength(1);
      env.clock.advance(16 * MINUTE_MS);
      await Promise.all([maintenanceTick(restarted), maintenanceTick(second)]);
      const after = mailsTo('bob@example.test');
      expect(after).toHaveLength(2);
      expect(after[1]!.raw).toMatch(/in about 7 days/);
      expect(await env.m.store.mailLog.find(`expiry:${record.serial}:7`)).toMatchObject({ status: 'sent', attempts: 2 });
    } finally {
      await restarted.close();
      await second.close();
    }

    // The admin got a daily digest naming the certificate, once per day.
    const digests = sink.received.filter((m) => m.to.includes('root@example.test') && /digest/.test(m.subject));
    expect(digests.length).toBeGreaterThanOrEqual(1);
    expect(digests[0]!.raw).toContain('bob@example.test');
    expect(new Set(digests.map((d) => d.subject)).size).toBe(digests.length);
  });

  it('skips marks a certificate passed before it was reminded, and marks longer than its lifetime', async () => {
    const carol = await addTestUser(env.m, 'carol@example.test');
    const start = env.clock.now().getTime();
    const { record } = await enrol(env.m.ctx, testActor, { user: carol, csr: opensslCsr(dir, 'carol').csrPem });
    env.clock.set(new Date(record.notAfter.getTime() - 3 * DAY_MS));
    await maintenanceTick(env.m);
    const mails = mailsTo('carol@example.test');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.raw).toMatch(/in about 7 days/);
    expect(await env.m.store.mailLog.find(`expiry:${record.serial}:30`)).toMatchObject({ status: 'skipped' });
    env.clock.set(new Date(start));
  });
});

describe('CA rollover and CA expiry mails', () => {
  it('asks holders of an old-CA certificate to renew (once each), and warns admins before the CA expires', async () => {
    const { rotateCa } = await import('../../src/issuance/authority.ts');
    const { sendRenewalPrompts, sendAdminDigest } = await import('../../src/notifications/reminders.ts');
    const dave = await addTestUser(env.m, 'dave@example.test');
    const { record } = await enrol(env.m.ctx, testActor, { user: dave, csr: opensslCsr(dir, 'dave').csrPem, deviceLabel: 'Phone' });
    const old = (await env.m.store.cas.findActive())!;
    await rotateCa(env.m.store, env.m.keyring, { name: 'short-lived CA', keyAlgorithm: 'P-256', lifetimeDays: 60, clock: env.clock, crossSign: false });
    const deps = { store: env.m.store, clock: env.clock, mailer: env.m.mailer!, log: env.m.log, portalUrl: 'https://mailca.example.test/', reminderDays: [30, 7, 1], caExpiryWarnDays: 90 };
    const first = await sendRenewalPrompts(deps, old.id);
    expect(first.sent).toContain(`renew-prompt:${old.id}:${record.serial}`);
    await sendRenewalPrompts(deps, old.id);
    const prompts = sink.received.filter((m) => m.to.includes('dave@example.test') && /Please renew/.test(m.subject));
    expect(prompts).toHaveLength(1);
    expect(prompts[0]!.raw).toContain('https://mailca.example.test/');
    expect(prompts[0]!.raw).toContain(record.serial);

    // The new CA lives 60 days, inside the 90-day warning: the admin digest says so.
    env.clock.advance(2 * 24 * 3600 * 1000);
    await sendAdminDigest(deps);
    const digest = sink.received.filter((m) => m.to.includes('root@example.test') && /digest/.test(m.subject)).at(-1);
    expect(digest!.raw).toMatch(/WARNING: CA "short-lived CA" \(id \d+\) expires on/);
  });
});
