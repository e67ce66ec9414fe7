import { Router } from 'express';
import type { EnrolmentContext } from '../../enrolment/context.ts';
import { enrol } from '../../enrolment/enrol.ts';
import { revoke } from '../../enrolment/revoke.ts';
import { endOverlap, isRenewable, renew } from '../../enrolment/renew.ts';
import type { CertificateRecord } from '../../store/index.ts';
import { BadRequest } from '../../errors.ts';
import { formatFingerprintColons } from '../../issuance/encoding.ts';
import { changeOwnPassword } from '../../enrolment/users.ts';
import { actorOf, requireUser, sessionUser } from '../principal.ts';
import { certificateView } from '../views.ts';

/** What a signed-in user may do with their own certificates. */
export function meRoutes(ctx: EnrolmentContext): Router {
  const r = Router();
  r.post('/enrol', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.csr !== 'string') throw new BadRequest('missing_csr', 'send JSON {"csr": "-----BEGIN CERTIFICATE REQUEST-----…"}');
    const { record, chainPem } = await enrol(ctx, actorOf(req), { user: sessionUser(req), csr: body.csr, deviceLabel: body.device_label });
    res.status(201).json(issuedView(record, chainPem));
  });
  r.post('/me/certificates/:serial/renew', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.csr !== 'string') throw new BadRequest('missing_csr', 'send JSON {"csr": "-----BEGIN CERTIFICATE REQUEST-----…"}');
    const { record, chainPem } = await renew(ctx, actorOf(req), { user: sessionUser(req), serial: String(req.params.serial), csr: body.csr, deviceLabel: body.device_label });
    const predecessor = record.renewalOf ? await ctx.store.certificates.findBySerial(record.renewalOf) : undefined;
    res.status(201).json({ ...issuedView(record, chainPem), renewal_of: record.renewalOf, overlap_ends: predecessor?.supersedeAt?.toISOString() ?? null });
  });
  r.post('/me/certificates/:serial/end-overlap', requireUser, async (req, res) => {
    const record = await endOverlap(ctx, actorOf(req), { user: sessionUser(req), serial: String(req.params.serial) });
    res.json({ certificate: certificateView(record, ctx.clock.now(), ctx.policy) });
  });
  function issuedView(record: CertificateRecord, chainPem: string[]) {
    return {
      serial: record.serial,
      email: record.email,
      fingerprint_sha256: formatFingerprintColons(record.fingerprintSha256),
      not_before: record.notBefore.toISOString(),
      not_after: record.notAfter.toISOString(),
      device_label: record.deviceLabel,
      certificate: record.certificatePem,
      chain: chainPem,
    };
  }
  r.get('/me/certificates', requireUser, async (req, res) => {
    const now = ctx.clock.now();
    const certs = await ctx.store.certificates.listForUser(sessionUser(req).id);
    const activeCaId = (await ctx.store.cas.findActive())?.id;
    res.json({ certificates: certs.map((c) => ({ ...certificateView(c, now, ctx.policy), renewable: isRenewable(c, now, ctx.policy, activeCaId) })) });
  });
  r.post('/me/password', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    await changeOwnPassword(ctx, actorOf(req), { user: sessionUser(req), currentPassword: body.current_password, newPassword: body.new_password, keepSessionId: req.sessionID });
    res.json({ changed: true });
  });
  r.post('/me/certificates/:serial/revoke', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const user = sessionUser(req);
    const { certificate, alsoRevoked } = await revoke(ctx, actorOf(req), { serial: String(req.params.serial), reason: body.reason, ownerUserId: user.id });
    res.json({ certificate: certificateView(certificate, ctx.clock.now(), ctx.policy), also_revoked: alsoRevoked });
  });
  return r;
}
