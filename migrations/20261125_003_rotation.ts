import type { Knex } from 'knex';

// Renewal with overlap, reminder mails, CA rollover.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('certificates', (t) => {
    t.string('renewal_of', 40); // predecessor's serial
    t.string('renewed_by', 40); // successor's serial
    t.bigInteger('supersede_at'); // end of the overlap: then revoked as superseded
    t.index(['supersede_at']);
    t.index(['ca_id']);
  });
  await knex.schema.alterTable('cas', (t) => {
    t.text('cross_certificate_pem'); // this CA's key certified by its predecessor (optional)
    t.bigInteger('retired_at');
  });
  // Every outgoing mail, keyed so that a restart or a second instance never sends one twice.
  await knex.schema.createTable('mail_log', (t) => {
    t.string('key', 200).primary(); // e.g. "expiry:<serial>:7", "digest:2027-01-31"
    t.string('recipient', 320).notNullable();
    t.string('status', 16).notNullable(); // sending | sent | failed | skipped
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('claimed_at');
    t.bigInteger('next_attempt_at');
    t.bigInteger('sent_at');
    t.text('last_error');
    t.index(['status', 'next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('mail_log');
  await knex.schema.alterTable('cas', (t) => {
    t.dropColumn('retired_at');
    t.dropColumn('cross_certificate_pem');
  });
  await knex.schema.alterTable('certificates', (t) => {
    t.dropIndex(['ca_id']);
    t.dropIndex(['supersede_at']);
    t.dropColumn('supersede_at');
    t.dropColumn('renewed_by');
    t.dropColumn('renewal_of');
  });
}
