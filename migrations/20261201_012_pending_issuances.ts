import type { Knex } from 'knex';

// Record, then sign: every certificate is first recorded here (with its audit event) and committed,
// then signed, then stored in `certificates` and its row here removed. A row left here is an
// issuance that failed between the steps, kept visible (`failed_at`/`failure`, or still open).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('pending_issuances', (t) => {
    t.string('serial', 64).primary();
    t.integer('ca_id').notNullable().references('id').inTable('cas');
    t.integer('user_id').notNullable().references('id').inTable('users');
    t.string('email', 320).notNullable();
    t.string('spki_sha256', 64).notNullable();
    t.bigInteger('not_before').notNullable();
    t.bigInteger('not_after').notNullable();
    t.bigInteger('requested_at').notNullable();
    t.bigInteger('failed_at').nullable();
    t.text('failure').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('pending_issuances');
}
