/**
 * pull/mailca-pull.mjs runs alone on a mail host and cannot import the consumer-format registry, so it keeps a table
 * of its own (PULL_FORMATS). This holds the two together: every registry format is pullable with the file names and
 * maps the registry publishes, and what each format renders passes the pull client's check for it.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERIAL_BYTES } from '../../src/issuance/serial.ts';
import { ALLOWLIST_FORMATS, consumerFormat, isAllowlistFormat, renderAllowlist, type AllowlistEntry, type ListContext } from '../../src/publishers/formats/index.ts';

interface PullCheck {
  what: string;
  count(text: string): number;
}
interface PullMap {
  file: string;
  format?: string;
  check: PullCheck;
}
interface PullFormat {
  allowlist: PullMap;
  enforcement?: PullMap;
  senders?: PullMap;
  policyService?: boolean;
  caCrl?: boolean;
}
interface PullModule {
  PULL_FORMATS: Record<string, PullFormat>;
  USAGE: string;
}

const CLIENT = pathToFileURL(path.resolve(import.meta.dirname, '../../pull/mailca-pull.mjs')).href;
let pull: PullModule;
beforeAll(async () => {
  pull = (await import(CLIENT)) as PullModule;
});

const entry = (owner: string, senders: string[], fingerprint: string): AllowlistEntry => ({
  serial: fingerprint.slice(0, SERIAL_BYTES * 2), // the form newSerial() gives
  fingerprintSha256: fingerprint,
  spkiSha256: fingerprint.split('').reverse().join(''),
  owner,
  subject: `CN=${owner}`,
  notAfter: new Date('2030-01-01T00:00:00Z'),
  senders,
  migration: 'grace',
});
const ENTRIES = [entry('alice@example.test', ['alice@example.test', 'al@example.test'], 'ab'.repeat(32)), entry('bob@example.test', ['bob@example.test'], '0c'.repeat(32))];
const CONTEXT: ListContext = {
  portalUrl: 'https://ca.example.test/',
  users: [
    { email: 'alice@example.test', enforcement: { email: 'alice@example.test', state: 'enforced', basis: 'override', enforcedFrom: null, enrolled: true }, senders: ['alice@example.test', 'al@example.test'] },
    { email: 'bob@example.test', enforcement: { email: 'bob@example.test', state: 'grace', basis: 'none', enforcedFrom: null, enrolled: false }, senders: ['bob@example.test'] },
  ],
};

describe('the pull client\'s format table and the consumer-format registry', () => {
  it('has exactly the registry\'s formats', () => {
    expect(Object.keys(pull.PULL_FORMATS).sort()).toEqual([...ALLOWLIST_FORMATS].sort());
  });

  it.each(ALLOWLIST_FORMATS)('%s: the same file names, maps and policy service as the registry', (name) => {
    const registry = consumerFormat(name);
    const table = pull.PULL_FORMATS[name]!;
    expect(table.allowlist.file).toBe(registry.allowlistFile);
    expect(table.enforcement?.file).toBe(registry.enforcement?.file);
    const sendersFrom = registry.pull.sendersFrom ?? (registry.senderLogins ? name : undefined);
    if (sendersFrom === undefined) expect(table.senders).toBeUndefined();
    else {
      expect(isAllowlistFormat(sendersFrom), `${name}.pull.sendersFrom names a format`).toBe(true);
      const from = consumerFormat(sendersFrom as typeof name);
      expect(from.senderLogins, `${sendersFrom} publishes a senders map`).toBeDefined();
      expect(table.senders?.format).toBe(sendersFrom);
      expect(table.senders?.file).toBe(from.senderLogins?.file);
    }
    expect(Boolean(table.policyService)).toBe(Boolean(registry.pull.policyService));
    expect(Boolean(table.caCrl)).toBe(Boolean(registry.pull.caCrl));
  });

  it.each(ALLOWLIST_FORMATS)('%s: what the registry renders passes the pull client\'s checks, with the right count', (name) => {
    const registry = consumerFormat(name);
    const table = pull.PULL_FORMATS[name]!;
    expect(table.allowlist.check.count(renderAllowlist(name, ENTRIES, CONTEXT))).toBe(ENTRIES.length);
    expect(table.allowlist.check.count(renderAllowlist(name, [], CONTEXT))).toBe(0);
    if (registry.enforcement) expect(table.enforcement?.check.count(registry.enforcement.render(CONTEXT))).toBe(1);
    const sendersFrom = registry.pull.sendersFrom ?? (registry.senderLogins ? name : undefined);
    if (sendersFrom !== undefined) {
      const senders = consumerFormat(sendersFrom as typeof name).senderLogins!.render(CONTEXT);
      expect(table.senders?.check.count(senders)).toBeGreaterThan(0);
    }
  });

  it('the usage names every format and its file names', () => {
    for (const name of ALLOWLIST_FORMATS) expect(pull.USAGE).toContain(`--format ${name}: allowlist ${consumerFormat(name).allowlistFile}`);
  });
});
