import type { Knex } from 'knex';

// Sender aliases: addresses a user's certificates may also send as (the MTAs check MAIL FROM
// against the owner's address and these). An address is the alias of at most one user (primary
// key), normalised to lower case like users.email; enrolment keeps it from being a user's address.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sender_aliases', (t) => {
    t.string('address', 320).primary();
    t.integer('user_id').notNullable().references('id').inTable('users');
    t.bigInteger('created_at').notNullable();
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('sender_aliases');
}
