import { Router } from 'express';
import type { Clock } from '../../clock.ts';
import { listEnforcement } from '../../enrolment/enforcement.ts';
import { BadRequest } from '../../errors.ts';
import { ALLOWLIST_CONTENT_TYPES, ALLOWLIST_FORMATS, renderAllowlist, type AllowlistFormat } from '../../publishers/allowlists.ts';
import { ENFORCEMENT_FORMATS, renderEnforcement, type EnforcementFormat } from '../../publishers/enforcement-maps.ts';
import type { Publisher } from '../../publishers/publish.ts';
import type { Store } from '../../store/index.ts';
import { sendLongPolled } from '../long-poll.ts';
import { requireRole } from '../principal.ts';

function pickFormat<F extends string>(v: unknown, allowed: readonly F[], fallback: F): F {
  const format = v === undefined || v === '' ? fallback : String(v);
  if (!allowed.includes(format as F)) throw new BadRequest('invalid_format', `format must be one of: ${allowed.join(', ')}`);
  return format as F;
}

/** What MTAs pull (mta or admin token), rendered from the store at request time; long poll with ?wait=. */
export function allowlistRoutes(deps: { store: Store; clock: Clock; publisher: Publisher; portalUrl: string }): Router {
  const r = Router();
  // Rendering a large list costs far more than asking the database whether it changed; long-polling
  // MTAs re-check often, so keep the last rendering of each format until the active set moves.
  const rendered = new Map<AllowlistFormat, { token: string; body: string }>();
  async function allowlist(format: AllowlistFormat): Promise<string> {
    const now = deps.clock.now();
    const token = await deps.store.certificates.activeSetToken(now);
    const cached = rendered.get(format);
    if (cached?.token === token) return cached.body;
    const body = renderAllowlist(format, await deps.store.certificates.listActive(now));
    rendered.set(format, { token, body });
    return body;
  }
  r.get('/allowlist', requireRole('mta'), async (req, res) => {
    const format = pickFormat<AllowlistFormat>(req.query.format, ALLOWLIST_FORMATS, 'postfix');
    await sendLongPolled(req, res, deps.publisher, async () => ({ body: await allowlist(format), contentType: ALLOWLIST_CONTENT_TYPES[format] }));
  });
  r.get('/enforcement', requireRole('mta'), async (req, res) => {
    const format = pickFormat<EnforcementFormat>(req.query.format, ENFORCEMENT_FORMATS, 'postfix');
    await sendLongPolled(req, res, deps.publisher, async () => ({
      body: renderEnforcement(format, await listEnforcement(deps), deps.portalUrl),
      contentType: 'text/plain; charset=utf-8',
    }));
  });
  return r;
}
