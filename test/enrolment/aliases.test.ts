import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAlias, listAliases, removeAlias } from '../../src/enrolment/aliases.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { addUser, disableUser } from '../../src/enrolment/users.ts';
import { BadRequest, Conflict, NotFound } from '../../src/errors.ts';
import { addTestUser, opensslCsr, PASSWORD, startMailca, testActor } from '../helpers/mailca.ts';

let env: Awaited<ReturnType<typeof startMailca>>;
beforeAll(async () => {
  env = await startMailca();
  await addTestUser(env.m, 'alice@example.test');
  await addTestUser(env.m, 'bob@example.test');
});
afterAll(async () => {
  await env?.stop();
});

const add = (email: unknown, alias: unknown) => addAlias(env.m.ctx, testActor, { email, alias });
const remove = (email: unknown, alias: unknown) => removeAlias(env.m.ctx, testActor, { email, alias });
const list = async (email: string) => (await listAliases(env.m.ctx, email)).aliases;
const rejection = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('sender aliases (enrolment)', () => {
  it('adds a normalised alias, audits it and publishes at once', async () => {
    let published = 0;
    const onPublished = () => published++;
    env.m.publisher.events.on('published', onPublished);
    try {
      expect(await add(' Alice@Example.TEST ', '  PostMaster@Example.test ')).toEqual({ email: 'alice@example.test', alias: 'postmaster@example.test' });
      expect(published).toBe(1);
      await add('alice@example.test', 'abuse@example.test');
      expect(await list('ALICE@example.test')).toEqual(['abuse@example.test', 'postmaster@example.test']);
      const senders = await env.m.store.aliases.sendersForUsers();
      const alice = (await env.m.store.users.findByEmail('alice@example.test'))!;
      expect(senders.get(alice.id)).toEqual(['alice@example.test', 'abuse@example.test', 'postmaster@example.test']);

      await remove('alice@example.test', 'ABUSE@example.test');
      expect(published).toBe(3);
      expect(await list('alice@example.test')).toEqual(['postmaster@example.test']);
    } finally {
      env.m.publisher.events.off('published', onPublished);
    }
    const events = (await env.m.store.audit.list({ limit: 10, offset: 0, target: 'alice@example.test' })).items;
    expect(events.filter((e) => e.action.startsWith('user.alias.')).map((e) => [e.action, e.details])).toEqual([
      ['user.alias.remove', { alias: 'abuse@example.test' }],
      ['user.alias.add', { alias: 'abuse@example.test' }],
      ['user.alias.add', { alias: 'postmaster@example.test' }],
    ]);
  });

  it('refuses a bad address (400), an unknown user (404), a taken address (409), a missing alias (404)', async () => {
    for (const bad of ['', 'no-at-sign', 'a@b', '#x@example.test', `${'x'.repeat(60)}@example.test`, 42, null]) {
      const e = await rejection(add('alice@example.test', bad));
      expect(e, String(bad)).toBeInstanceOf(BadRequest);
      expect((e as BadRequest).code).toBe('invalid_alias');
    }
    expect(await rejection(add('nobody@example.test', 'x@example.test'))).toBeInstanceOf(NotFound);
    expect(await rejection(add('not an address', 'x@example.test'))).toBeInstanceOf(BadRequest);

    const taken = async (email: string, alias: string, code: string) => {
      const e = await rejection(add(email, alias));
      expect(e, `${email} ${alias}`).toBeInstanceOf(Conflict);
      expect((e as Conflict).code).toBe(code);
    };
    await taken('alice@example.test', 'alice@example.test', 'address_is_user'); // one's own address
    await taken('alice@example.test', 'Bob@example.test', 'address_is_user'); // someone else's
    await taken('bob@example.test', 'postmaster@example.test', 'alias_exists'); // alice's alias
    await taken('alice@example.test', 'postmaster@example.test', 'alias_exists'); // already hers
    expect((await rejection(add('bob@example.test', 'postmaster@example.test'))) as Conflict).toHaveProperty('message', 'the address postmaster@example.test is already a sender alias of alice@example.test');

    const missing = await rejection(remove('bob@example.test', 'postmaster@example.test'));
    expect(missing).toBeInstanceOf(NotFound);
    expect((missing as NotFound).code).toBe('alias_not_found');
    expect(await list('alice@example.test')).toEqual(['postmaster@example.test']);
    expect(await rejection(remove('nobody@example.test', 'postmaster@example.test'))).toBeInstanceOf(NotFound);
    expect(await rejection(remove('alice@example.test', 'bad address'))).toBeInstanceOf(BadRequest);
    expect(await rejection(listAliases(env.m.ctx, 'nobody@example.test'))).toBeInstanceOf(NotFound);
    // Refusals leave no audit event behind.
    const actions = (await env.m.store.audit.list({ limit: 50, offset: 0 })).items.map((e) => e.action);
    expect(actions.filter((a) => a.startsWith('user.alias.'))).toHaveLength(3);
  });

  it('user add refuses an address that is a sender alias', async () => {
    const e = await rejection(addUser(env.m.ctx, testActor, { email: 'PostMaster@example.test', password: PASSWORD }));
    expect(e).toBeInstanceOf(Conflict);
    expect((e as Conflict).code).toBe('address_is_alias');
    expect(await env.m.store.users.findByEmail('postmaster@example.test')).toBeUndefined();
    // Once the alias is removed the address is free again.
    await remove('alice@example.test', 'postmaster@example.test');
    await addTestUser(env.m, 'postmaster@example.test');
    expect(await rejection(add('alice@example.test', 'postmaster@example.test'))).toBeInstanceOf(Conflict);
  });

  it('races: one address goes to exactly one user or alias, and the audit chain holds', async () => {
    for (let round = 0; round < 4; round++) {
      const address = `race${round}@example.test`;
      const results = await Promise.allSettled([
        add('alice@example.test', address),
        add('bob@example.test', address),
        addUser(env.m.ctx, testActor, { email: address, password: PASSWORD }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won, address).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(Conflict);
      const isUser = Boolean(await env.m.store.users.findByEmail(address));
      const isAlias = (await env.m.store.aliases.findOwner(address)) !== undefined;
      expect(isUser !== isAlias, address).toBe(true);
    }
    expect((await env.m.store.audit.verify()).ok).toBe(true);
  });

  it('a disabled user keeps their aliases (still reserved), but has no certificate to send with', async () => {
    const dave = await addTestUser(env.m, 'dave@example.test');
    await add('dave@example.test', 'dave.alias@example.test');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-alias-'));
    await enrol(env.m.ctx, testActor, { user: dave, csr: opensslCsr(dir, 'dave').csrPem });
    const { revoked } = await disableUser(env.m.ctx, testActor, 'dave@example.test');
    expect(revoked).toHaveLength(1);
    expect(await list('dave@example.test')).toEqual(['dave.alias@example.test']);
    expect((await env.m.store.aliases.sendersForUsers([dave.id])).get(dave.id)).toEqual(['dave@example.test', 'dave.alias@example.test']);
    expect(await env.m.store.certificates.listActive(env.clock.now()).then((l) => l.filter((c) => c.email === 'dave@example.test'))).toEqual([]);
    expect(await rejection(add('alice@example.test', 'dave.alias@example.test'))).toBeInstanceOf(Conflict);
    await remove('dave@example.test', 'dave.alias@example.test');
    await add('alice@example.test', 'dave.alias@example.test');
  });
});
