import { EventEmitter } from 'node:events';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { CaKeyring } from '../issuance/authority.ts';
import type { CaRecord, CrlRecord, Store } from '../store/index.ts';
import { renderEximAllowlist, renderJsonAllowlist, renderPostfixAllowlist } from './allowlists.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { crlRefreshDue, ensureCrl } from './crls.ts';
import { renderEximEnforcement, renderPostfixEnforcement } from './enforcement-maps.ts';
import { listEnforcement } from '../enrolment/enforcement.ts';
import { nextEnforcementChange } from '../enrolment/enforcement-policy.ts';

/** File names in `<data dir>/publish/`: the contract with MTAs and the pull client. */
export const PUBLISHED_FILES = {
  postfixAllowlist: 'allowlist.postfix',
  eximAllowlist: 'allowlist.exim',
  jsonAllowlist: 'allowlist.json',
  caBundle: 'ca.pem',
  crlPem: 'crl.pem',
  crlDer: 'crl.der',
  postfixEnforcement: 'enforcement.postfix',
  eximEnforcement: 'enforcement.exim',
} as const;

export interface PublisherDeps {
  store: Store;
  keyring: CaKeyring;
  clock: Clock;
  log: Logger;
  /** `<data dir>/publish` */
  dir: string;
  crlLifetimeMs: number;
  /** Where users enrol; named in the enforcement maps' refusal message. */
  portalUrl: string;
}

export interface PublishResult {
  at: Date;
  activeCertificates: number;
  crls: CrlRecord[];
}

function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) [^-]+-----/g, '').replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(body, 'base64'));
}

/**
 * Writes every published file as a function of store state at the clock's now. Calls are queued,
 * so two changes in quick succession publish in order and never interleave file writes.
 */
export class Publisher {
  #queue: Promise<unknown> = Promise.resolve();
  /** Emits 'published' after each publish (long-polling readers wait on it). */
  readonly events = new EventEmitter().setMaxListeners(0);

  constructor(private readonly deps: PublisherDeps) {}

  publish(): Promise<PublishResult> {
    const run = this.#queue.then(() => this.publishNow());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The CAs to trust: the issuing CA, and every other CA not retired that still has a valid
   * certificate (so MTAs keep accepting old certificates while users renew).
   */
  async trustedCas(): Promise<CaRecord[]> {
    const usage = await this.deps.store.certificates.usageByCa(this.deps.clock.now());
    return (await this.deps.store.cas.listTrusted()).filter((ca) => ca.status === 'active' || (usage.get(ca.id)?.active ?? 0) > 0);
  }

  /** Signs (if due) and returns the CRL of every trusted CA. */
  async currentCrls(cas?: readonly CaRecord[]): Promise<CrlRecord[]> {
    cas ??= await this.trustedCas();
    const crls: CrlRecord[] = [];
    for (const ca of cas) crls.push(await ensureCrl(this.deps, ca, { lifetimeMs: this.deps.crlLifetimeMs }));
    return crls;
  }

  async caBundlePem(cas?: readonly CaRecord[]): Promise<string> {
    cas ??= await this.trustedCas();
    return cas.map((ca) => new X509Certificate(ca.certificatePem).toString()).join('');
  }

  /** When published state next changes by time alone: a validity boundary, a CRL refresh, or a scheduled enforcement. */
  async nextDue(): Promise<Date | undefined> {
    const now = this.deps.clock.now();
    const times: number[] = [];
    const boundary = await this.deps.store.certificates.nextValidityBoundary(now);
    if (boundary) times.push(boundary.getTime());
    const cas = await this.trustedCas();
    for (const crl of await this.deps.store.crls.listForCas(cas.map((c) => c.id))) {
      times.push(crlRefreshDue(crl, this.deps.crlLifetimeMs).getTime());
    }
    const enforcement = nextEnforcementChange(await listEnforcement(this.deps), now);
    if (enforcement) times.push(enforcement.getTime());
    return times.length ? new Date(Math.min(...times)) : undefined;
  }

  private async publishNow(): Promise<PublishResult> {
    const { store, clock, dir } = this.deps;
    const now = clock.now();
    const active = await store.certificates.listActive(now);
    const cas = await this.trustedCas();
    const crls = await this.currentCrls(cas);
    const bundle = await this.caBundlePem(cas);
    const activeCrl = crls.find((c) => c.caId === cas.find((ca) => ca.status === 'active')?.id);
    const enforcement = await listEnforcement(this.deps);

    const file = (name: string) => path.join(dir, name);
    writeFileAtomic(file(PUBLISHED_FILES.postfixAllowlist), renderPostfixAllowlist(active));
    writeFileAtomic(file(PUBLISHED_FILES.eximAllowlist), renderEximAllowlist(active));
    writeFileAtomic(file(PUBLISHED_FILES.jsonAllowlist), renderJsonAllowlist(active));
    writeFileAtomic(file(PUBLISHED_FILES.caBundle), bundle);
    writeFileAtomic(file(PUBLISHED_FILES.crlPem), crls.map((c) => c.crlPem).join(''));
    if (activeCrl) writeFileAtomic(file(PUBLISHED_FILES.crlDer), pemToDer(activeCrl.crlPem));
    writeFileAtomic(file(PUBLISHED_FILES.postfixEnforcement), renderPostfixEnforcement(enforcement, this.deps.portalUrl));
    writeFileAtomic(file(PUBLISHED_FILES.eximEnforcement), renderEximEnforcement(enforcement));
    this.deps.log.debug({ active: active.length, crls: crls.map((c) => c.crlNumber) }, 'published');
    this.events.emit('published');
    return { at: now, activeCertificates: active.length, crls };
  }
}

export { pemToDer };
