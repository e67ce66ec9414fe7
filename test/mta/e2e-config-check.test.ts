/**
 * Every configuration the real `mailca mta-config` CLI prints (8 policies × Postfix and Exim; with the options these
 * tests run the servers with, and with the CLI's defaults) passes the servers' own checks: `postfix -c DIR check`
 * (plus `postconf -n` without complaints) and `exim -C FILE -bV`. The files it references were filled by a real pull.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICIES, POLICY_NUMBERS, type MtaKind, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { E2eMailca, eximFromCli, postfixFromCli, REPO, runAsync, type CommandResult, type PullDirectory } from './e2e-harness.ts';
import { MTA_SKIP_REASON } from './environment.ts';
import { EXIM_BIN, EximInstance } from './exim-instance.ts';
import { expectCleanPostfixCheck, POSTFIX_BIN, PostfixInstance } from './postfix-instance.ts';
import { run } from './run.ts';

const PORT_BASE = 22600;
type Variant = 'test settings' | 'CLI defaults';
const VARIANTS: readonly Variant[] = ['test settings', 'CLI defaults'];

describe.skipIf(MTA_SKIP_REASON !== undefined)('configs printed by `mailca mta-config` pass postfix check / exim -bV', () => {
  let mailca: E2eMailca;
  const pulled = new Map<MtaKind, PullDirectory>();
  const outputs = new Map<string, string>();
  const postfixChecks = new Map<string, { postfix: PostfixInstance; check: CommandResult }>();
  const key = (variant: Variant, mta: MtaKind, policy: PolicyNumber) => `${variant}/${mta}/${policy}`;

  /** The defaults variant: only what has no usable default on this machine (files, server certificate, host name). */
  async function cliDefaults(mta: MtaKind, policy: PolicyNumber): Promise<string> {
    const args = [
      join(REPO, 'bin', 'mailca.mjs'), 'mta-config', '--mta', mta, '--policy', String(policy),
      '--files-dir', pulled.get(mta)?.dir ?? '', '--hostname', 'mx.example.test',
      '--tls-cert', mailca.pki.serverCertFile, '--tls-key', mailca.pki.serverKeyFile,
    ];
    const r = await runAsync(process.execPath, args, { env: mailca.cliEnv() });
    if (r.status !== 0) throw new Error(`mailca ${args.slice(1).join(' ')} exited ${r.status}\n${r.stderr}`);
    return r.stdout;
  }

  beforeAll(async () => {
    mailca = await E2eMailca.start('config-check');
    await mailca.enrol('alice@example.test');
    for (const mta of ['postfix', 'exim'] as const) {
      const files = mailca.pullDirectory(mta);
      await mailca.pull(files);
      pulled.set(mta, files);
    }
    // The CLI loads the whole program through tsx (about a second each) and `postfix check` of a fresh instance
    // takes about two: run them a few at a time, and let the tests assert on the results.
    const jobs: (() => Promise<void>)[] = [];
    for (const variant of VARIANTS) {
      for (const mta of ['postfix', 'exim'] as const) {
        for (const policy of POLICY_NUMBERS) {
          jobs.push(async () => {
            const files = pulled.get(mta);
            if (!files) throw new Error('no pull directory');
            const out = variant === 'test settings' ? await mailca.mtaConfig(mta, policy, PORT_BASE, files) : await cliDefaults(mta, policy);
            outputs.set(key(variant, mta, policy), out);
            if (mta !== 'postfix') return;
            const postfix = new PostfixInstance(join(mailca.dir, `postfix-${variant.replace(/\W+/g, '-')}-p${policy}`));
            postfix.writeConfig([postfixFromCli(out)]);
            postfixChecks.set(key(variant, mta, policy), { postfix, check: await runAsync(POSTFIX_BIN, ['-c', postfix.configDir, 'check']) });
          });
        }
      }
    }
    const workers = Array.from({ length: 4 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job();
    });
    await Promise.all(workers);
  });

  afterAll(async () => {
    await mailca?.stop();
  });

  const output = (variant: Variant, mta: MtaKind, policy: PolicyNumber): string => {
    const text = outputs.get(key(variant, mta, policy));
    if (text === undefined) throw new Error(`no CLI output for ${key(variant, mta, policy)}`);
    return text;
  };

  for (const variant of VARIANTS) {
    describe(variant, () => {
      it.each(POLICY_NUMBERS)('postfix check accepts policy %i without warnings', (policy: PolicyNumber) => {
        const text = output(variant, 'postfix', policy);
        const files = pulled.get('postfix');
        if (POLICIES[policy].clientCertificates !== 'none') expect(text).toMatch(/check_policy_service { inet:127\.0\.0\.1:\d+, timeout=5s, policy_context=(mandatory|optional) }/);
        const checked = postfixChecks.get(key(variant, 'postfix', policy));
        if (!checked) throw new Error('postfix check did not run');
        const { postfix, check } = checked;
        expectCleanPostfixCheck(postfix, check);
      });

      it.each(POLICY_NUMBERS)('exim -bV accepts policy %i, as printed and inside the test instance', (policy: PolicyNumber) => {
        const text = output(variant, 'exim', policy);
        // Exactly what the CLI printed, as an admin would save it.
        const file = join(mailca.dir, `exim-${variant.replace(/\W+/g, '-')}-p${policy}.conf`);
        writeFileSync(file, text);
        const raw = run(EXIM_BIN, ['-C', file, '-bV']);
        expect(raw.status, `${raw.stdout}${raw.stderr}`).toBe(0);
        expect(raw.stdout).toContain('Exim version');
        expect(raw.stderr).not.toMatch(/error|warning/i);
        if (POLICIES[policy].clientCertificates !== 'none') expect(text).toContain(`tls_crl = ${pulled.get('exim')?.crl}`);
        // And with the test instance's spool/log settings in front, as the e2e tests run it.
        const exim = new EximInstance(join(mailca.dir, `exim-${variant.replace(/\W+/g, '-')}-p${policy}`));
        exim.writeConfig(eximFromCli(text));
        const check = exim.check();
        expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
      });
    });
  }
});
