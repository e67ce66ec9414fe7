import { CONSUMER_FORMATS, MTA_KINDS, type ConsumerFormat, type MtaKind, type RenderedMtaConfigOf } from '../formats/index.ts';
import type { MtaConfigGenerator, MtaConfigOptions } from './types.ts';
import { validateOptions } from './validate.ts';

export { MTA_KINDS } from '../formats/index.ts';
export type { RenderedMtaConfigOf } from '../formats/index.ts';
export { CERTIFICATE_LOGIN_KEY, DEFAULT_DOVECOT_PASSWORDS } from './dovecot.ts';
export { POLICIES, POLICY_NUMBERS } from './policies.ts';
export { DEFAULT_POLICY_SERVICE } from './validate.ts';
export type { ClientCertificateMode, PolicyDescription, TlsMode } from './policies.ts';
export type {
  ConfigPart,
  EximLookup,
  EximSasl,
  MtaConfigOptions,
  MtaKind,
  PolicyNumber,
  PostfixMaps,
  PostfixSasl,
  PublishedPaths,
  MtaConfigGenerator,
  RenderedConfig,
  RenderedDovecotConfig,
  RenderedEximConfig,
  RenderedPostfixConfig,
  SubmissionConfigOptions,
} from './types.ts';

/** Any MTA's rendered configuration. */
export type RenderedMtaConfig = RenderedMtaConfigOf<MtaKind>;

/** The configuration generator that MTA `mta`'s consumer format links to. */
export function mtaConfigGenerator(mta: MtaKind): MtaConfigGenerator {
  const generator = (CONSUMER_FORMATS[mta] as ConsumerFormat).mtaConfig;
  if (!generator) throw new Error(`mta-config: the ${mta} format has no MTA configuration`);
  return generator;
}

/** The MTAs whose configuration is one of the eight submission policies (`--policy`). */
export const SUBMISSION_MTAS: readonly MtaKind[] = MTA_KINDS.filter((k) => mtaConfigGenerator(k).policies);

/**
 * Ready-to-paste MTA configuration from the generator the MTA's consumer format links to: for a submission MTA, one of
 * the eight policies (`policy` required); for the others, without one. Pure: no I/O. Throws on unsafe input.
 */
export function renderMtaConfig<K extends MtaKind>(opts: MtaConfigOptions & { mta: K }): RenderedMtaConfigOf<K> {
  validateOptions(opts);
  const generator = mtaConfigGenerator(opts.mta);
  if (generator.policies) {
    if (opts.policy === undefined) throw new Error(`mta-config: ${opts.mta} needs a submission policy (1-8)`);
    return generator.render({ ...opts, policy: opts.policy }) as RenderedMtaConfigOf<K>;
  }
  if (opts.policy !== undefined) throw new Error(`mta-config: ${opts.mta} configures ${generator.configures}, not a submission policy`);
  return generator.render(opts) as RenderedMtaConfigOf<K>;
}
