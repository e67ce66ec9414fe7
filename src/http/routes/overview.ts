import { Router } from 'express';
import { DAY_MS } from '../../clock.ts';
import { BadRequest } from '../../errors.ts';
import { pageParams, statusParam } from '../pagination.ts';
import type { HttpCapabilities } from '../capabilities.ts';
import { requireRole, requireUser, sessionUser } from '../principal.ts';
import { certificateView } from '../views.ts';

const WINDOW_DAYS = 30;

/** What the portal tells users to put into their mail client (from configuration). */
export interface PortalSettingsOptions {
  /** MAILCA_PUBLIC_URL; its host name is the default SMTP host. */
  publicUrl?: string;
  smtpHost?: string;
  /** Implicit TLS submission port ("SSL/TLS"); 0 = not offered. Default 465. */
  smtpTlsPort?: number;
  /** STARTTLS submission port; 0 = not offered. Default 587. */
  smtpStarttlsPort?: number;
  /** MAILCA_SUBMISSION_AUTH: whether the server offers AUTH EXTERNAL ("TLS certificate"). Default none. */
  smtpAuth?: 'none' | 'external';
  sessionIdleMs?: number;
}

/** Admin overview and search, and the settings the portal shows to signed-in users. */
export function overviewRoutes({ enrolment, reads, clock }: Pick<HttpCapabilities, 'enrolment' | 'reads' | 'clock'>, opts: PortalSettingsOptions = {}): Router {
  const r = Router();

  r.get('/overview', requireRole('admin'), async (_req, res) => {
    const now = clock.now();
    const certs = reads.certificates;
    const [users, usersWithActive, expiring, revoked] = await Promise.all([
      reads.users.count(),
      certs.countUsersWithActive(now),
      certs.countExpiringBy(now, new Date(now.getTime() + WINDOW_DAYS * DAY_MS)),
      certs.countRevokedSince(new Date(now.getTime() - WINDOW_DAYS * DAY_MS)),
    ]);
    res.json({
      at: now.toISOString(),
      window_days: WINDOW_DAYS,
      users,
      users_with_active_certificate: usersWithActive,
      certificates_expiring_soon: expiring,
      revocations_recent: revoked,
    });
  });

  /** GET /certificate-search?q=&status=&limit=&offset= — q is part of an address, or a serial or fingerprint prefix. */
  r.get('/certificate-search', requireRole('admin'), async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const { limit, offset } = pageParams(q);
    const status = statusParam(q);
    if (q.q !== undefined && typeof q.q !== 'string') throw new BadRequest('invalid_query', 'q must be a single string');
    const text = typeof q.q === 'string' ? q.q.slice(0, 320) : undefined;
    const now = clock.now();
    const page = await reads.certificates.search({ q: text, status, now, limit, offset });
    res.json({ certificates: page.items.map((c) => certificateView(c, now)), total: page.total, limit, offset });
  });

  r.get('/portal-settings', requireUser, async (req, res) => {
    const host = opts.smtpHost ?? (opts.publicUrl ? new URL(opts.publicUrl).hostname : req.hostname);
    const ports = [
      { port: opts.smtpTlsPort ?? 465, security: 'tls' as const },
      { port: opts.smtpStarttlsPort ?? 587, security: 'starttls' as const },
    ].filter((p) => p.port > 0);
    // The signed-in user's migration state: in grace a password still sends mail, once enforced only a certificate.
    const enforcement = await enrolment.userEnforcement(sessionUser(req).id);
    res.json({
      smtp: { host, ports, auth: opts.smtpAuth ?? 'none' },
      enforcement: enforcement ? { state: enforcement.state, enforced_from: enforcement.enforcedFrom?.toISOString() ?? null } : null,
      session_idle_minutes: opts.sessionIdleMs ? Math.round(opts.sessionIdleMs / 60_000) : null,
      ca_certificate_url: '/ca.pem',
    });
  });
  return r;
}
