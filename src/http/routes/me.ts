import { Router } from 'express';
import { isRenewable } from '../../enrolment/renew.ts';
import type { CertificateRecord } from '../../store/index.ts';
import { BadRequest } from '../../errors.ts';
import { formatFingerprintColons } from '../../issuance/encoding.ts';
import type { HttpCapabilities } from '../capabilities.ts';
import { actorOf, requireUser, sessionUser } from '../principal.ts';
import { certificateView } from '../views.ts';

/** What a signed-in user may do with their own certificates. */
export function meRoutes({ enrolment, reads, clock, renewal }: Pick<HttpCapabilities, 'enrolment' | 'reads' | 'clock' | 'renewal'>): Router {
  const r = Router();
  r.post('/enrol', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.csr !== 'string') throw new BadRequest('missing_csr', 'send JSON {"csr": "-----BEGIN CERTIFICATE REQUEST-----…"}');
    const { record, chainPem } = await enrolment.enrol(actorOf(req), { user: sessionUser(req), csr: body.csr, deviceLabel: body.device_label });
    res.status(201).json(issuedView(record, chainPem));
  });
  r.post('/me/certificates/:serial/renew', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.csr !== 'string') throw new BadRequest('missing_csr', 'send JSON {"csr": "-----BEGIN CERTIFICATE REQUEST-----…"}');
    const { record, chainPem } = await enrolment.renew(actorOf(req), { user: sessionUser(req), serial: String(req.params.serial), csr: body.csr, deviceLabel: body.device_label });
    const predecessor = record.renewalOf ? await reads.certificates.findBySerial(record.renewalOf) : undefined;
    res.status(201).json({ ...issuedView(record, chainPem), renewal_of: record.renewalOf, overlap_ends: predecessor?.supersedeAt?.toISOString() ?? null });
  });
  r.post('/me/certificates/:serial/end-overlap', requireUser, async (req, res) => {
    const record = await enrolment.endOverlap(actorOf(req), { user: sessionUser(req), serial: String(req.params.serial) });
    res.json({ certificate: certificateView(record, clock.now(), renewal) });
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
    const now = clock.now();
    const certs = await reads.certificates.listForUser(sessionUser(req).id);
    const activeCaId = (await reads.cas.findActive())?.id;
    res.json({ certificates: certs.map((c) => ({ ...certificateView(c, now, renewal), renewable: isRenewable(c, now, renewal, activeCaId) })) });
  });
  r.post('/me/password', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    await enrolment.changeOwnPassword(actorOf(req), { user: sessionUser(req), currentPassword: body.current_password, newPassword: body.new_password, keepSessionId: req.sessionID });
    res.json({ changed: true });
  });
  r.post('/me/certificates/:serial/revoke', requireUser, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const user = sessionUser(req);
    const { certificate, alsoRevoked } = await enrolment.revoke(actorOf(req), { serial: String(req.params.serial), reason: body.reason, ownerUserId: user.id });
    res.json({ certificate: certificateView(certificate, clock.now(), renewal), also_revoked: alsoRevoked });
  });
  return r;
}
