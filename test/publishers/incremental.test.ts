import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../src/clock.ts';
import { encodeCrlEntry } from '../../src/issuance/crl-entry.ts';
import { newSerial } from '../../src/issuance/serial.ts';
import { ALLOWLIST_FORMATS, consumerFormat } from '../../src/publishers/formats/index.ts';
import { Publisher } from '../../src/publishers/publish.ts';
import type { CertificateRecord, User } from '../../src/store/index.ts';
import { addTestUser, startMailca } from '../helpers/mailca.ts';
import { seededRandom as prng } from '../helpers/seeded-random.ts';

// The incremental publisher must write exactly what a publisher starting from nothing writes for
// the same state: same bytes, same ETags, whatever sequence of changes led there.

type Env = Awaited<ReturnType<typeof startMailca>>;
let env: Env;
let users: User[];


beforeAll(async () => {
  env = await startMailca({ publicUrl: 'https://mailca.example.test' });
  users = [];
  for (const name of ['ann', 'ben', 'cat', 'dan', 'eve']) users.push(await addTestUser(env.m, `${name}@example.test`));
});
afterAll(async () => {
  await env?.stop();
});

const LISTS = ALLOWLIST_FORMATS.flatMap((name) => {
  const f = consumerFormat(name);
  return [f.allowlistFile, f.enforcement?.file, f.senderLogins?.file].filter((file): file is string => file !== undefined);
});

function freshPublisher(): { publisher: Publisher; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-full-'));
  const { store, keyring, clock } = env.m.ctx;
  return { publisher: new Publisher({ store, keyring, clock, log: pino({ level: 'silent' }), dir, crlLifetimeMs: 48 * HOUR_MS, portalUrl: 'https://mailca.example.test/' }), dir };
}

async function expectSameAsFullRender(): Promise<void> {
  await env.m.publisher.publish();
  const { publisher, dir } = freshPublisher();
  await publisher.publish();
  for (const name of LISTS) {
    const incremental = readFileSync(path.join(env.db.dataDir, 'publish', name), 'utf8');
    expect(incremental, name).toBe(readFileSync(path.join(dir, name), 'utf8'));
    expect((await env.m.publisher.file(name)).etag, name).toBe((await publisher.file(name)).etag);
    expect(await (await env.m.publisher.file(name)).text(), name).toBe(incremental);
  }
  await publisher.close();
  JSON.parse(readFileSync(path.join(env.db.dataDir, 'publish', 'allowlist.json'), 'utf8'));
}

function row(user: User, fingerprint: string, now: Date, lifetimeMs: number, startsIn = 0): CertificateRecord {
  return {
    serial: newSerial(),
    caId: 1,
    userId: user.id,
    email: user.email,
    subject: `CN=${user.email}`,
    fingerprintSha256: fingerprint,
    spkiSha256: randomBytes(32).toString('hex'),
    notBefore: new Date(now.getTime() - 60_000 + startsIn),
    notAfter: new Date(now.getTime() + lifetimeMs),
    certificatePem: '-',
    deviceLabel: null,
    createdAt: now,
    revokedAt: null,
    revocationReason: null,
    renewalOf: null,
    renewedBy: null,
    supersedeAt: null,
  };
}

describe('incremental publishing', () => {
  it('writes the same bytes and ETags as a full render after every step of a random history', async () => {
    const random = prng(20261201);
    const { store } = env.m.ctx;
    const clock = env.clock;
    const live: CertificateRecord[] = [];
    // Fingerprints share a few prefixes so buckets hold several entries, empty out and fill again.
    const prefixes = ['000', '001', '7ff', '800', 'abc', 'fff'];
    const fingerprint = () => (random() < 0.5 ? prefixes[Math.floor(random() * prefixes.length)]! + randomBytes(32).toString('hex').slice(3) : randomBytes(32).toString('hex'));
    await expectSameAsFullRender();
    for (let step = 0; step < 40; step++) {
      const ops = 1 + Math.floor(random() * 12);
      for (let i = 0; i < ops; i++) {
        const r = random();
        const user = users[Math.floor(random() * users.length)]!;
        if (r < 0.5 || live.length === 0) {
          const c = row(user, fingerprint(), clock.now(), (1 + Math.floor(random() * 20)) * HOUR_MS, random() < 0.1 ? HOUR_MS : 0);
          await store.certificates.insert(c);
          live.push(c);
        } else if (r < 0.8) {
          const [c] = live.splice(Math.floor(random() * live.length), 1);
          await store.certificates.revoke(c!.serial, clock.now(), 'unspecified', encodeCrlEntry({ serial: c!.serial, revokedAt: clock.now(), reason: 'unspecified' }));
        } else if (r < 0.85) {
          const aliases = await store.aliases.listForUser(user.id);
          if (aliases.length > 0 && random() < 0.4) await store.aliases.remove(user.id, aliases[0]!.address);
          else await store.aliases.add({ address: `alias${step}.${i}@example.test`, userId: user.id, createdAt: clock.now() });
        } else if (r < 0.9) {
          await store.enforcement.setForUser(user.id, random() < 0.5 ? 'enforced' : null, null);
        } else {
          // Time passes: certificates expire or become valid.
          clock.advance(Math.floor(random() * 3 * HOUR_MS));
        }
      }
      await expectSameAsFullRender();
    }
    // Aliases are published as senders, owner first.
    const someAlias = [...(await store.aliases.sendersForUsers()).values()].find((list) => list.length > 1)!;
    expect(readFileSync(path.join(env.db.dataDir, 'publish', 'senders.postfix'), 'utf8')).toContain(`${someAlias[1]} ${someAlias[0]}`);
  });

  it('takes a burst of more changes than it reads at once by rendering everything', async () => {
    const { store } = env.m.ctx;
    const clock = env.clock;
    await store.transaction(async (tx) => {
      for (let i = 0; i < 5_200; i++) await tx.certificates.insert(row(users[i % users.length]!, randomBytes(32).toString('hex'), clock.now(), DAY_MS));
    });
    await expectSameAsFullRender();
    expect(env.m.publisher.activeCertificates).toBe(await store.certificates.countActive(clock.now()));
  });

  it('publishes an enforcement-policy deadline for everyone as it passes', async () => {
    const { store } = env.m.ctx;
    const clock = env.clock;
    await store.enforcement.setForAll(null);
    await store.enforcement.setPolicy({ afterFirstEnrolmentDays: null, deadline: new Date(clock.now().getTime() + HOUR_MS) });
    await expectSameAsFullRender();
    expect(readFileSync(path.join(env.db.dataDir, 'publish', 'enforcement.exim'), 'utf8')).not.toContain('ann@');
    clock.advance(HOUR_MS + 1);
    await expectSameAsFullRender();
    expect(readFileSync(path.join(env.db.dataDir, 'publish', 'enforcement.exim'), 'utf8')).toContain('ann@example.test: enforced');
    const json = JSON.parse(readFileSync(path.join(env.db.dataDir, 'publish', 'allowlist.json'), 'utf8')) as { certificates: { migration: string }[]; enforced_users: string[] };
    expect(json.enforced_users).toContain('ann@example.test');
    expect(new Set(json.certificates.map((c) => c.migration))).toEqual(new Set(['enforced']));
  });
});
