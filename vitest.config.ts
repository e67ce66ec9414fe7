import { defineConfig } from 'vitest/config';

// The whole suite runs twice: once on SQLite, once on a fresh PostgreSQL database per test file.
const pgAdminUrl = process.env.MAILCA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'sqlite', env: { MAILCA_TEST_DB: 'sqlite' } } },
      { extends: true, test: { name: 'postgres', env: { MAILCA_TEST_DB: 'postgres', MAILCA_TEST_PG_URL: pgAdminUrl } } },
    ],
  },
});
