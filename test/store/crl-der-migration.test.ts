import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationSource } from '../../migrations/index.ts';
import { openRawDatabase } from '../helpers/database.ts';
import { startMailca } from '../helpers/mailca.ts';

// The current CRL moved from a PEM text column to DER bytes: a database migrated back and forth keeps it.
type Env = Awaited<ReturnType<typeof startMailca>>;
let env: Env;

beforeAll(async () => {
  env = await startMailca();
  await env.m.publisher.publish();
});
afterAll(async () => {
  await env?.stop();
});

describe('migration 013 (CRL as DER)', () => {
  it('converts the stored PEM CRL to the same DER and back', async () => {
    const [crl] = await env.m.publisher.currentCrls();
    expect(crl).toBeDefined();
    const der = Buffer.from(crl!.crlDer);
    // What openssl makes of the PEM is the DER that is stored.
    expect(execFileSync('openssl', ['crl', '-outform', 'DER'], { input: crl!.crlPem })).toEqual(der);

    const knex = openRawDatabase(env.db);
    try {
      const stored = await knex('crls').where({ ca_id: crl!.caId }).first();
      expect(Buffer.from(stored.crl_der)).toEqual(der);

      await knex.migrate.down({ migrationSource });
      const down = await knex('crls').where({ ca_id: crl!.caId }).first();
      expect(down.crl_der).toBeUndefined();
      expect(down.crl_pem).toBe(crl!.crlPem);

      await knex.migrate.latest({ migrationSource });
      const up = await knex('crls').where({ ca_id: crl!.caId }).first();
      expect(up.crl_pem).toBeUndefined();
      expect(Buffer.from(up.crl_der)).toEqual(der);
    } finally {
      await knex.destroy();
    }
    // The store reads it as before.
    expect(Buffer.from((await env.m.store.crls.find(crl!.caId))!.crlDer)).toEqual(der);
  });
});
