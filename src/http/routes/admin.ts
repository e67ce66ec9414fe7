import { Router } from 'express';
import { normalizeEmail } from '../../enrolment/identity.ts';
import { parseSerial } from '../../enrolment/revoke.ts';
import { generatePassword } from '../../enrolment/passwords.ts';
import { NotFound } from '../../errors.ts';
import type { HttpCapabilities } from '../capabilities.ts';
import { pageParams, statusParam } from '../pagination.ts';
import { actorOf, requireRole } from '../principal.ts';
import { auditView, certificateView, userSummaryView, userView } from '../views.ts';

/** Admin API (admin token or admin user): the same enrolment functions users' actions go through. */
export function adminRoutes({ enrolment, reads, clock }: Pick<HttpCapabilities, 'enrolment' | 'reads' | 'clock'>): Router {
  const r = Router();
  r.use(['/certificates', '/users', '/audit', '/tokens'], requireRole('admin'));

  r.get('/certificates', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const { limit, offset } = pageParams(q);
    const status = statusParam(q);
    const email = q.email === undefined || q.email === '' ? undefined : normalizeEmail(q.email);
    const now = clock.now();
    const page = await reads.certificates.list({ email, status, now, limit, offset });
    res.json({ certificates: page.items.map((c) => certificateView(c, now)), total: page.total, limit, offset });
  });

  r.get('/certificates/:serial', async (req, res) => {
    const serial = parseSerial(String(req.params.serial));
    const cert = await reads.certificates.findBySerial(serial);
    if (!cert) throw new NotFound('certificate_not_found', `no certificate with serial ${serial}`);
    res.json({ certificate: certificateView(cert, clock.now()) });
  });

  r.post('/certificates/:serial/revoke', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { certificate, alsoRevoked } = await enrolment.revoke(actorOf(req), { serial: String(req.params.serial), reason: body.reason });
    res.json({ certificate: certificateView(certificate, clock.now()), also_revoked: alsoRevoked });
  });

  // Paged like the other listings: ?q= (start of an address), limit (default 50, at most 500), offset.
  r.get('/users', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const { limit, offset } = pageParams(q);
    const page = await enrolment.listUsers({ q: q.q, limit, offset });
    res.json({ users: page.items.map(userSummaryView), total: page.total, limit, offset });
  });

  r.post('/users', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    // Without a password, one is generated and returned once (as `mailca user add` does).
    const generated = b.password === undefined || b.password === null || b.password === '' ? generatePassword() : undefined;
    const user = await enrolment.addUser(actorOf(req), { email: b.email, displayName: b.name, isAdmin: b.admin, password: generated ?? b.password });
    res.status(201).json({ user: userView(user), ...(generated ? { generated_password: generated } : {}) });
  });

  r.post('/users/:email/disable', async (req, res) => {
    const { user, revoked } = await enrolment.disableUser(actorOf(req), String(req.params.email));
    res.json({ user: userView(user), revoked_serials: revoked });
  });

  r.post('/users/:email/enable', async (req, res) => {
    const { user } = await enrolment.enableUser(actorOf(req), String(req.params.email));
    res.json({ user: userView(user) });
  });

  r.post('/users/:email/unlock', async (req, res) => {
    const user = await enrolment.unlockUser(actorOf(req), String(req.params.email));
    res.json({ user: userView(user), unlocked: true });
  });

  r.post('/users/:email/password', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    // Without a password, one is generated and returned once.
    const r2 = await enrolment.resetPassword(actorOf(req), { email: String(req.params.email), password: b.password });
    res.json({ user: userView(r2.user), ended_sessions: r2.endedSessions, ...(r2.generatedPassword ? { generated_password: r2.generatedPassword } : {}) });
  });

  r.get('/users/:email/aliases', async (req, res) => {
    const { aliases } = await enrolment.listAliases(String(req.params.email));
    res.json({ aliases });
  });

  r.post('/users/:email/aliases', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const added = await enrolment.addAlias(actorOf(req), { email: String(req.params.email), alias: b.alias });
    res.status(201).json({ ...added, aliases: (await enrolment.listAliases(added.email)).aliases });
  });

  r.delete('/users/:email/aliases/:alias', async (req, res) => {
    await enrolment.removeAlias(actorOf(req), { email: String(req.params.email), alias: String(req.params.alias) });
    res.status(204).end();
  });

  r.get('/tokens', async (_req, res) => {
    const tokens = await reads.tokens.list();
    res.json({ tokens: tokens.map((t) => ({ id: t.id, name: t.name, role: t.role, created_at: t.createdAt.toISOString(), revoked_at: t.revokedAt?.toISOString() ?? null })) });
  });

  r.post('/tokens', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const { token, record } = await enrolment.createToken(actorOf(req), { role: b.role, name: b.name });
    res.status(201).json({ token, id: record.id, name: record.name, role: record.role });
  });

  r.post('/tokens/:nameOrId/revoke', async (req, res) => {
    res.json({ revoked: await enrolment.revokeToken(actorOf(req), String(req.params.nameOrId)) });
  });

  r.get('/audit', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const { limit, offset } = pageParams(q);
    const page = await reads.audit.list({
      limit,
      offset,
      action: typeof q.action === 'string' && q.action ? q.action : undefined,
      target: typeof q.target === 'string' && q.target ? q.target : undefined,
    });
    res.json({ events: page.items.map(auditView), total: page.total, limit, offset });
  });
  return r;
}
