import { Conflict, NotFound } from '../errors.ts';
import type { CaRecord, CaStatus } from '../store/index.ts';
import { audited, type Actor, type EnrolmentContext } from './context.ts';
import { revoke } from './revoke.ts';

export interface CaOverview {
  ca: CaRecord;
  state: CaStatus;
  /** Unrevoked, unexpired certificates it issued. */
  certificatesLeft: number;
  /** When the last of them expires: the CA can be retired then without --force. */
  retirableFrom: Date | null;
}

export async function caOverview(ctx: Pick<EnrolmentContext, 'store' | 'clock'>): Promise<CaOverview[]> {
  const now = ctx.clock.now();
  const usage = await ctx.store.certificates.usageByCa(now);
  return (await ctx.store.cas.list()).map((ca) => {
    const u = usage.get(ca.id);
    return { ca, state: ca.status, certificatesLeft: u?.active ?? 0, retirableFrom: ca.status === 'retired' ? null : (u?.lastNotAfter ?? now) };
  });
}

/**
 * Retires a CA that no longer issues: it leaves the trust bundle and the CRL output. Refused while
 * it still has valid certificates, unless `force`, which revokes them (cessationOfOperation).
 */
export async function retireCa(ctx: EnrolmentContext, actor: Actor, req: { id: number; force: boolean }): Promise<{ ca: CaRecord; revoked: string[] }> {
  const ca = await ctx.store.cas.findById(req.id);
  if (!ca) throw new NotFound('ca_not_found', `no CA with id ${req.id}`);
  if (ca.status === 'retired') throw new Conflict('ca_retired', `CA ${ca.id} is already retired`);
  if (ca.status === 'active') throw new Conflict('ca_active', `CA ${ca.id} is the issuing CA; run \`mailca ca rotate\` first`);
  const now = ctx.clock.now();
  const left = await ctx.store.certificates.listUnrevokedForCa(ca.id, now);
  if (left.length > 0 && !req.force) {
    throw new Conflict('ca_in_use', `CA ${ca.id} still has ${left.length} valid certificate(s); they can renew now, or use --force to revoke them`);
  }
  const revoked: string[] = [];
  for (const cert of left) {
    await revoke(ctx, actor, { serial: cert.serial, reason: 'cessationOfOperation' });
    revoked.push(cert.serial);
  }
  await audited(ctx, actor, { action: 'ca.retire', target: String(ca.id), details: () => ({ name: ca.name, forced_revocations: revoked.length }) }, (tx) =>
    tx.cas.setStatus(ca.id, 'retired', now),
  );
  await ctx.publish();
  return { ca: { ...ca, status: 'retired', retiredAt: now }, revoked };
}
