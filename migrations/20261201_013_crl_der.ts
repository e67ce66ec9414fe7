import type { Knex } from 'knex';

const PEM_BODY = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/;

// The current CRL is stored as DER in a BLOB: writing a 100k-entry CRL as PEM text (6.6 MB) cost SQLite
// about 30 ms of synchronous work on every re-sign; the DER (5 MB) about 7 ms.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('crls', (t) => {
    t.binary('crl_der').nullable();
  });
  for (const row of await knex<{ ca_id: number; crl_pem: string }>('crls').select('ca_id', 'crl_pem')) {
    const body = PEM_BODY.exec(row.crl_pem)?.[1];
    if (body === undefined) throw new Error(`crls row of CA ${row.ca_id} holds no PEM CRL`);
    await knex('crls').where({ ca_id: row.ca_id }).update({ crl_der: Buffer.from(body.replace(/\s/g, ''), 'base64') });
  }
  await knex.schema.alterTable('crls', (t) => {
    t.dropColumn('crl_pem');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('crls', (t) => {
    t.text('crl_pem').nullable();
  });
  for (const row of await knex<{ ca_id: number; crl_der: Buffer }>('crls').select('ca_id', 'crl_der')) {
    const lines = row.crl_der.toString('base64').match(/.{1,64}/g) ?? [];
    await knex('crls').where({ ca_id: row.ca_id }).update({ crl_pem: `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n` });
  }
  await knex.schema.alterTable('crls', (t) => {
    t.dropColumn('crl_der');
  });
}
