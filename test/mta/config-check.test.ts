import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_NUMBERS, renderMtaConfig, type MtaConfigOptions, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { MTA_SKIP_REASON, MtaTestEnvironment } from './environment.ts';
import { EximInstance } from './exim-instance.ts';
import { expectCleanPostfixCheck, PostfixInstance } from './postfix-instance.ts';

const PORT_BASE = 20800;

/** Drops test-only choices (ports, bind address, SASL backends): the config exactly as an admin would paste it. */
function pasteDefaults(options: MtaConfigOptions): MtaConfigOptions {
  const { ports: _ports, listenAddress: _listen, postfixSasl: _postfixSasl, eximSasl: _eximSasl, ...rest } = options;
  return rest;
}

describe.skipIf(MTA_SKIP_REASON !== undefined)('generated configs pass the servers own checks', () => {
  let environment: MtaTestEnvironment;
  const variants = [
    ['test settings', (options: MtaConfigOptions): MtaConfigOptions => options],
    ['defaults (465/587, all addresses, Dovecot SASL)', pasteDefaults],
    ['cdb maps (no policy service)', (options: MtaConfigOptions): MtaConfigOptions => ({ ...options, postfixMaps: 'cdb' })],
  ] as const;

  beforeAll(() => {
    environment = new MtaTestEnvironment('config-check');
  });
  afterAll(() => environment?.remove());

  for (const [variantName, adapt] of variants) {
    describe(variantName, () => {
      it.each(POLICY_NUMBERS)('postfix check accepts policy %i without warnings', (policy: PolicyNumber) => {
        const postfix = new PostfixInstance(join(environment.dir, `postfix-${variantName.length}-p${policy}`));
        const options = adapt(environment.renderOptions('postfix', policy, PORT_BASE));
        postfix.writeConfig([renderMtaConfig({ ...options, mta: 'postfix' })]);
        const check = postfix.check();
        expectCleanPostfixCheck(postfix, check);
      });

      it.each(POLICY_NUMBERS)('exim -bV accepts policy %i', (policy: PolicyNumber) => {
        const exim = new EximInstance(join(environment.dir, `exim-${variantName.length}-p${policy}`));
        const options = adapt(environment.renderOptions('exim', policy, PORT_BASE));
        exim.writeConfig(renderMtaConfig({ ...options, mta: 'exim' }));
        const check = exim.check();
        expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
        expect(check.stdout).toContain('Exim version');
      });
    });
  }
});
