import { Router } from 'express';
import type { UserEnforcement } from '../../enrolment/enforcement-policy.ts';
import type { HttpCapabilities } from '../capabilities.ts';
import { actorOf, requireRole } from '../principal.ts';

const view = (d: UserEnforcement) => ({
  email: d.email,
  state: d.state,
  basis: d.basis,
  enforced_from: d.enforcedFrom?.toISOString() ?? null,
  enrolled: d.enrolled,
});

/** Per-user migration to mandatory certificates (admin), and the readiness figure. */
export function enforcementRoutes({ enrolment, reads }: Pick<HttpCapabilities, 'enrolment' | 'reads'>): Router {
  const r = Router();
  const admin = requireRole('admin');
  r.get('/enforcement/users', admin, async (_req, res) => {
    res.json({ users: (await enrolment.listEnforcement()).map(view) });
  });
  r.post('/users/:email/enforcement', admin, async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    res.json({ user: view(await enrolment.setUserEnforcement(actorOf(req), { email: String(req.params.email), state: b.state, enforceAt: b.enforce_at })) });
  });
  r.post('/enforcement/all', admin, async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    res.json({ users_changed: await enrolment.setEveryoneEnforcement(actorOf(req), b.state) });
  });
  r.post('/enforcement/enrolled', admin, async (req, res) => {
    res.json({ users_changed: await enrolment.enforceEnrolled(actorOf(req)) });
  });
  r.get('/readiness/history', admin, async (req, res) => {
    const h = await enrolment.enrolmentHistory((req.query as Record<string, unknown>).days);
    res.json({ users_total: h.usersTotal, days: h.days });
  });
  r.get('/enforcement/policy', admin, async (_req, res) => {
    const p = await reads.enforcement.policy();
    res.json({ after_first_enrolment_days: p.afterFirstEnrolmentDays, deadline: p.deadline?.toISOString() ?? null });
  });
  r.put('/enforcement/policy', admin, async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const p = await enrolment.setEnforcementPolicy(actorOf(req), { afterFirstEnrolmentDays: b.after_first_enrolment_days, deadline: b.deadline });
    res.json({ after_first_enrolment_days: p.afterFirstEnrolmentDays, deadline: p.deadline?.toISOString() ?? null });
  });
  r.get('/readiness', admin, async (_req, res) => {
    const x = await enrolment.readiness();
    res.json({
      users_total: x.usersTotal,
      enrolled: x.enrolled,
      enforced: x.enforced,
      grace: x.grace,
      enrolled_percent: x.usersTotal ? Math.round((1000 * x.enrolled) / x.usersTotal) / 10 : 100,
      not_enrolled: x.notEnrolled,
      enforced_without_certificate: x.enforcedWithoutCertificate,
      ready_to_enforce: x.readyToEnforce,
    });
  });
  return r;
}
