import type { Knex } from 'knex';

// Times are epoch milliseconds (bigInteger) so SQLite and PostgreSQL compare them the same way.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('cas', (t) => {
    t.increments('id').primary();
    t.string('name', 200).notNullable();
    t.string('key_algorithm', 16).notNullable();
    t.text('certificate_pem').notNullable();
    t.text('encrypted_key_pem').notNullable();
    t.string('fingerprint_sha256', 64).notNullable().unique();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.string('status', 16).notNullable(); // active | retiring | retired
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('users', (t) => {
    t.increments('id').primary();
    t.string('email', 320).notNullable().unique();
    t.string('display_name', 200);
    t.boolean('is_admin').notNullable().defaultTo(false);
    t.text('password_hash');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('disabled_at');
  });

  await knex.schema.createTable('certificates', (t) => {
    t.string('serial', 40).primary();
    t.integer('ca_id').notNullable().references('id').inTable('cas');
    t.integer('user_id').notNullable().references('id').inTable('users');
    t.string('email', 320).notNullable();
    t.string('subject', 400).notNullable();
    t.string('fingerprint_sha256', 64).notNullable().unique();
    t.string('spki_sha256', 64).notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.text('certificate_pem').notNullable();
    t.string('device_label', 100);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('revoked_at');
    t.string('revocation_reason', 32);
    t.index(['email']);
    t.index(['user_id']);
    t.index(['not_after']);
    t.index(['revoked_at']);
    t.index(['spki_sha256']);
  });

  await knex.schema.createTable('blocked_keys', (t) => {
    t.string('spki_sha256', 64).primary();
    t.string('serial', 40).notNullable();
    t.bigInteger('blocked_at').notNullable();
  });

  await knex.schema.createTable('api_tokens', (t) => {
    t.increments('id').primary();
    t.string('name', 100).notNullable();
    t.string('role', 16).notNullable(); // admin | mta
    t.string('token_sha256', 64).notNullable().unique();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('revoked_at');
  });

  await knex.schema.createTable('sessions', (t) => {
    t.string('sid', 128).primary();
    t.text('data').notNullable();
    t.bigInteger('expires_at').notNullable().index();
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('at').notNullable();
    t.string('actor', 400).notNullable();
    t.string('action', 64).notNullable();
    t.string('target', 400);
    t.string('source_ip', 64);
    t.text('details');
    t.string('prev_hash', 64).notNullable();
    t.string('hash', 64).notNullable();
    t.index(['action', 'target', 'at']);
    t.index(['action', 'source_ip', 'at']);
  });

  // The newest event's id and hash, updated with each append, so deleting the tail is detected too.
  await knex.schema.createTable('audit_head', (t) => {
    t.integer('id').primary();
    t.bigInteger('last_id').notNullable();
    t.string('last_hash', 64).notNullable();
  });

  await knex.schema.createTable('crls', (t) => {
    t.integer('ca_id').primary().references('id').inTable('cas');
    t.bigInteger('crl_number').notNullable();
    t.bigInteger('this_update').notNullable();
    t.bigInteger('next_update').notNullable();
    t.text('crl_pem').notNullable();
    // The revocation state the CRL was signed from; a change means the CRL must be re-signed.
    t.string('state_hash', 64).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['crls', 'audit_head', 'audit_events', 'sessions', 'api_tokens', 'blocked_keys', 'certificates', 'users', 'cas']) {
    await knex.schema.dropTableIfExists(table);
  }
}
