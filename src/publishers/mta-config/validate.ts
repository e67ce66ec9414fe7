import type { MtaConfigOptions } from './types.ts';

/** Characters that would break a Postfix `-o` value, a `static:{…}` map or an Exim string expansion. */
const UNSAFE_IN_CONFIG = /[\s{}$\\,"]/;

export function assertSafe(what: string, value: string): void {
  if (value.length === 0 || UNSAFE_IN_CONFIG.test(value)) {
    throw new Error(`mta-config: ${what} must be non-empty without whitespace, braces, $, \\, commas or quotes: ${JSON.stringify(value)}`);
  }
}

export function assertPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`mta-config: ${what} is not a TCP port: ${port}`);
}

/** Throws on values that cannot be pasted into a config safely. */
export function validateOptions(opts: MtaConfigOptions): void {
  for (const [name, value] of Object.entries(opts.paths)) assertSafe(`paths.${name}`, value);
  assertSafe('tls.certFile', opts.tls.certFile);
  assertSafe('tls.keyFile', opts.tls.keyFile);
  assertSafe('hostname', opts.hostname);
  assertSafe('portalUrl', opts.portalUrl);
  if (!/^https?:\/\//.test(opts.portalUrl)) throw new Error(`mta-config: portalUrl must be http(s): ${opts.portalUrl}`);
  if (opts.listenAddress !== undefined) assertSafe('listenAddress', opts.listenAddress);
  assertPort('ports.tlsOnConnect', opts.ports?.tlsOnConnect ?? 465);
  assertPort('ports.submission', opts.ports?.submission ?? 587);
  assertPort('ports.imaps', opts.ports?.imaps ?? 993);
  if (opts.policyService !== undefined) {
    assertSafe('policyService', opts.policyService);
    if (!/^(inet:[^:\s]+:\d{1,5}|unix:\/\S+)$/.test(opts.policyService)) {
      throw new Error(`mta-config: policyService must be inet:HOST:PORT or unix:/PATH: ${JSON.stringify(opts.policyService)}`);
    }
  }
  if (opts.postfixSasl) assertSafe('postfixSasl.path', opts.postfixSasl.path);
  if (opts.eximSasl?.driver === 'dovecot') assertSafe('eximSasl.socket', opts.eximSasl.socket);
  if (opts.eximSasl?.driver === 'lsearch-crypteq') assertSafe('eximSasl.passwordFile', opts.eximSasl.passwordFile);
}

export function listeningPort(opts: MtaConfigOptions, tlsOnConnect: boolean): number {
  return tlsOnConnect ? (opts.ports?.tlsOnConnect ?? 465) : (opts.ports?.submission ?? 587);
}

export { enrolMessage } from '../formats/types.ts';

export const DEFAULT_POLICY_SERVICE = 'inet:127.0.0.1:10040';

export function policyServiceAddress(opts: MtaConfigOptions): string {
  return opts.policyService ?? DEFAULT_POLICY_SERVICE;
}

/** The first line of a pull-client command in the notes, continued on the next line (` \\`). */
export function pullCommand(format: 'json' | 'postfix' | 'exim', out: string): string {
  return `  mailca-pull --url <mailca URL> --token-file /etc/mailca/mta-token --format ${format} --out ${out} \\`;
}
