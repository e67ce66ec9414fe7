// For the knex CLI (e.g. `npx knex migrate:status`); mailca itself migrates on `mailca serve` / `mailca init`.
import path from 'node:path';
import { loadConfig } from './src/config.ts';
import { knexConfig } from './src/store/db.ts';

const config = loadConfig();
export default knexConfig({ databaseUrl: config.databaseUrl, sqliteFile: path.join(config.dataDir, 'mailca.sqlite') });
