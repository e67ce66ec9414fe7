import type { Knex } from 'knex';

// Users who sign in through an identity provider (e.g. the LDAP directory) rather than a mailca
// password: the provider's name and its subject for the user (the directory entry's DN). Null for
// local accounts. `mailca directory sync` and the sign-in of a leaver act only on these rows.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.string('identity_provider', 32).nullable();
    t.string('identity_subject', 1024).nullable();
    t.index(['identity_provider']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropIndex(['identity_provider']);
    t.dropColumn('identity_subject');
    t.dropColumn('identity_provider');
  });
}
