import type { Knex } from 'knex';

// Each revoked certificate's CRL entry (the DER RevokedCertificate), encoded once at revocation so that
// signing a CRL copies bytes instead of re-encoding every entry. NULL for rows revoked before this
// migration and for unrevoked ones; the CRL publisher encodes a NULL entry from serial, revoked_at and
// revocation_reason.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('certificates', (t) => {
    t.binary('crl_entry_der');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('certificates', (t) => {
    t.dropColumn('crl_entry_der');
  });
}
