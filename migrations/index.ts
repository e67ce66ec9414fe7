import type { Knex } from 'knex';
import * as initial from './20261125_001_initial.ts';
import * as enforcement from './20261125_002_enforcement.ts';
import * as rotation from './20261125_003_rotation.ts';
import * as locks from './20261125_004_locks.ts';
import * as crlEntries from './20261201_005_crl_entries.ts';
import * as senderAliases from './20261201_006_sender_aliases.ts';
import * as changeFeed from './20261201_007_change_feed.ts';
import * as sessionOwner from './20261201_008_session_owner.ts';
import * as directoryUsers from './20261201_009_directory_users.ts';
import * as keyReference from './20261201_010_key_reference.ts';
import * as pendingIssuances from './20261201_012_pending_issuances.ts';
import * as crlDer from './20261201_013_crl_der.ts';

/** All migrations, in order. Listed explicitly so they load the same under tsx, vitest and the knex CLI. */
export const migrations: ReadonlyArray<{ name: string; up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> }> = [
  { name: '20261125_001_initial', ...initial },
  { name: '20261125_002_enforcement', ...enforcement },
  { name: '20261125_003_rotation', ...rotation },
  { name: '20261125_004_locks', ...locks },
  { name: '20261201_005_crl_entries', ...crlEntries },
  { name: '20261201_006_sender_aliases', ...senderAliases },
  { name: '20261201_007_change_feed', ...changeFeed },
  { name: '20261201_008_session_owner', ...sessionOwner },
  { name: '20261201_009_directory_users', ...directoryUsers },
  { name: '20261201_010_key_reference', ...keyReference },
  { name: '20261201_012_pending_issuances', ...pendingIssuances },
  { name: '20261201_013_crl_der', ...crlDer },
];

export const migrationSource: Knex.MigrationSource<(typeof migrations)[number]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};
