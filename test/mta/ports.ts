import type { PolicyNumber } from '../../src/publishers/mta-config/index.ts';

/**
 * Ports for one test file's private server. The suite runs once per vitest project (sqlite, postgres), possibly
 * in parallel: each project gets its own range.
 */
export function policyPorts(fileBase: number, policy: PolicyNumber): { tlsOnConnect: number; submission: number } {
  const projectOffset = process.env.MAILCA_TEST_DB === 'postgres' ? 500 : 0;
  const base = fileBase + projectOffset;
  return { tlsOnConnect: base + policy, submission: base + 10 + policy };
}

/** The pull client's policy service of one test file's Postfix. */
export function policyServicePort(fileBase: number): number {
  return fileBase + (process.env.MAILCA_TEST_DB === 'postgres' ? 500 : 0) + 30;
}

/** The imaps port of one test file's private Dovecot. */
export function imapsPort(fileBase: number): number {
  return fileBase + (process.env.MAILCA_TEST_DB === 'postgres' ? 500 : 0) + 1;
}
