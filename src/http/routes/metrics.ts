import { Router } from 'express';
import { Gauge, Registry } from 'prom-client';
import type { HttpCapabilities } from '../capabilities.ts';
import { requireRole } from '../principal.ts';

/** Prometheus metrics (admin or mta token), computed from the database on each scrape. */
export function metricsRoutes({ enrolment, reads, clock }: Pick<HttpCapabilities, 'enrolment' | 'reads' | 'clock'>): Router {
  const registry = new Registry();
  const caExpiry = new Gauge({ name: 'mailca_ca_not_after_seconds', help: 'CA certificate expiry (Unix time)', labelNames: ['ca', 'state'], registers: [registry] });
  const caLeft = new Gauge({ name: 'mailca_ca_certificates_left', help: 'valid certificates issued by each CA', labelNames: ['ca', 'state'], registers: [registry] });
  const active = new Gauge({ name: 'mailca_certificates_active', help: 'certificates on the allow-lists', registers: [registry] });
  const users = new Gauge({ name: 'mailca_users', help: 'enabled users by migration state', labelNames: ['state'], registers: [registry] });
  const unfinished = new Gauge({ name: 'mailca_issuances_unfinished', help: 'issuances recorded but not completed (failed or interrupted)', registers: [registry] });
  const r = Router();
  r.get('/metrics', requireRole('mta'), async (_req, res) => {
    registry.resetMetrics();
    for (const o of await enrolment.caOverview()) {
      const labels = { ca: String(o.ca.id), state: o.state };
      caExpiry.set(labels, Math.floor(o.ca.notAfter.getTime() / 1000));
      caLeft.set(labels, o.certificatesLeft);
    }
    active.set(await reads.certificates.countActive(clock.now()));
    const x = await enrolment.readiness();
    users.set({ state: 'enrolled' }, x.enrolled);
    users.set({ state: 'enforced' }, x.enforced);
    users.set({ state: 'total' }, x.usersTotal);
    unfinished.set((await enrolment.unfinishedIssuances()).length);
    res.type(registry.contentType).send(await registry.metrics());
  });
  r.get('/cas', requireRole('admin'), async (_req, res) => {
    res.json({
      cas: (await enrolment.caOverview()).map((o) => ({
        id: o.ca.id,
        name: o.ca.name,
        state: o.state,
        key_algorithm: o.ca.keyAlgorithm,
        fingerprint_sha256: o.ca.fingerprintSha256,
        not_after: o.ca.notAfter.toISOString(),
        certificates_left: o.certificatesLeft,
        retirable_from: o.retirableFrom?.toISOString() ?? null,
        certificate: o.ca.certificatePem,
        cross_certificate: o.ca.crossCertificatePem,
      })),
    });
  });
  return r;
}
