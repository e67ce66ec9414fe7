import type { Knex } from 'knex';

// SQLite has no advisory locks: a transaction that must not interleave with another process
// (the CLI next to `mailca serve`) starts by writing its row here, which takes SQLite's write lock
// before it reads anything.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('locks', (t) => {
    t.string('name', 32).primary();
    t.bigInteger('version').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('locks');
}
