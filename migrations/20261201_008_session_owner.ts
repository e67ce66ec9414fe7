import type { Knex } from 'knex';

// Sessions name the user they belong to, so an admin's password reset (or disabling a user) can end
// all of that user's sessions at once. Sessions from before this migration have no owner recorded
// and end by themselves (idle timeout) as before.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.integer('user_id');
    t.index(['user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropIndex(['user_id']);
    t.dropColumn('user_id');
  });
}
