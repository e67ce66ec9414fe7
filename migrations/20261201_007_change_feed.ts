import type { Knex } from 'knex';

// Every change that alters what is published appends a row here in the same transaction, so every
// instance (and a server next to the CLI) can follow the database: read the rows after the last one
// it applied, and re-render only what they name.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('changes', (t) => {
    t.bigIncrements('seq').primary();
    t.bigInteger('at').notNullable();
    // certificate (key = serial) | user (key = user id) | all (key = '')
    t.string('kind', 16).notNullable();
    t.string('key', 64).notNullable();
  });
  // Certificates that become valid later: the publisher asks which started since its last publish.
  await knex.schema.alterTable('certificates', (t) => t.index(['not_before']));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('certificates', (t) => t.dropIndex(['not_before']));
  await knex.schema.dropTableIfExists('changes');
}
