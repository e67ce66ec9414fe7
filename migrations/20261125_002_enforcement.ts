import type { Knex } from 'knex';

// Per-user migration from password-only to certificate-mandatory submission.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    // null: follow the schedule; 'grace' or 'enforced': set by an admin.
    t.string('enforcement', 16);
    t.bigInteger('enforce_at');
  });
  await knex.schema.createTable('settings', (t) => {
    t.string('key', 64).primary();
    t.text('value').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('settings');
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('enforce_at');
    t.dropColumn('enforcement');
  });
}
