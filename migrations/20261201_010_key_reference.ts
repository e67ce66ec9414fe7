import type { Knex } from 'knex';

// Where each CA's private key lives, as JSON: {"kind":"file"} (the encrypted PKCS#8 in
// encrypted_key_pem, as before) or {"kind":"pkcs11","tokenLabel":…,"keyLabel":…,"keyId":…} (a key that
// never leaves its PKCS#11 token; encrypted_key_pem is then empty). Existing CAs are file keys.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('cas', (t) => {
    t.text('key_location');
  });
  await knex('cas').update({ key_location: JSON.stringify({ kind: 'file' }) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('cas', (t) => {
    t.dropColumn('key_location');
  });
}
