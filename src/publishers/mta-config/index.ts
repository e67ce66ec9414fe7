import { renderEximConfig } from './exim.ts';
import { renderPostfixConfig } from './postfix.ts';
import type { MtaConfigOptions, RenderedEximConfig, RenderedMtaConfig, RenderedPostfixConfig } from './types.ts';
import { validateOptions } from './validate.ts';

export { CERTIFICATE_LOGIN_KEY, renderDovecotConfig, type DovecotConfigOptions, type DovecotPaths, type RenderedDovecotConfig } from './dovecot.ts';
export { POLICIES, POLICY_NUMBERS } from './policies.ts';
export { DEFAULT_POLICY_SERVICE } from './validate.ts';
export type { ClientCertificateMode, PolicyDescription, TlsMode } from './policies.ts';
export type {
  EximLookup,
  EximSasl,
  MtaConfigOptions,
  MtaKind,
  PolicyNumber,
  PostfixMaps,
  PostfixSasl,
  PublishedPaths,
  RenderedEximConfig,
  RenderedMtaConfig,
  RenderedPostfixConfig,
} from './types.ts';

/** Ready-to-paste MTA configuration for one of the eight submission policies. Pure: no I/O. Throws on unsafe input. */
export function renderMtaConfig(opts: MtaConfigOptions & { mta: 'postfix' }): RenderedPostfixConfig;
export function renderMtaConfig(opts: MtaConfigOptions & { mta: 'exim' }): RenderedEximConfig;
export function renderMtaConfig(opts: MtaConfigOptions): RenderedMtaConfig;
export function renderMtaConfig(opts: MtaConfigOptions): RenderedMtaConfig {
  validateOptions(opts);
  return opts.mta === 'postfix' ? renderPostfixConfig(opts) : renderEximConfig(opts);
}
