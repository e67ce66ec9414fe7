import { CONSUMER_FORMATS, type ConsumerFormat, type MtaKind, type RenderedMtaConfigOf } from '../formats/index.ts';
import type { MtaConfigOptions } from './types.ts';
import { validateOptions } from './validate.ts';

export { MTA_KINDS } from '../formats/index.ts';
export type { RenderedMtaConfigOf } from '../formats/index.ts';

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
  RenderedEximConfig,
  RenderedPostfixConfig,
} from './types.ts';

/** Any MTA's rendered configuration. */
export type RenderedMtaConfig = RenderedMtaConfigOf<MtaKind>;

/**
 * Ready-to-paste MTA configuration for one of the eight submission policies, from the generator the MTA's consumer
 * format links to. Pure: no I/O. Throws on unsafe input.
 */
export function renderMtaConfig<K extends MtaKind>(opts: MtaConfigOptions & { mta: K }): RenderedMtaConfigOf<K> {
  validateOptions(opts);
  const generator = (CONSUMER_FORMATS[opts.mta] as ConsumerFormat).mtaConfig;
  if (!generator) throw new Error(`mta-config: the ${opts.mta} format has no MTA configuration`);
  return generator.render(opts) as RenderedMtaConfigOf<K>;
}
