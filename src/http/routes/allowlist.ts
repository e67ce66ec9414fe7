import { Router } from 'express';
import type { Clock } from '../../clock.ts';
import { BadRequest } from '../../errors.ts';
import { ALLOWLIST_CONTENT_TYPES, ALLOWLIST_FORMATS, renderAllowlist, type AllowlistFormat } from '../../publishers/allowlists.ts';
import type { Store } from '../../store/index.ts';
import { requireRole } from '../principal.ts';
import { sendWithEtag } from './public.ts';

/** The allow-list for MTAs (mta or admin token), rendered from the store at request time. */
export function allowlistRoutes(deps: { store: Store; clock: Clock }): Router {
  const r = Router();
  r.get('/allowlist', requireRole('mta'), async (req, res) => {
    const format = (req.query.format ?? 'postfix') as string;
    if (!ALLOWLIST_FORMATS.includes(format as AllowlistFormat)) {
      throw new BadRequest('invalid_format', `format must be one of: ${ALLOWLIST_FORMATS.join(', ')}`);
    }
    const active = await deps.store.certificates.listActive(deps.clock.now());
    sendWithEtag(req, res, renderAllowlist(format as AllowlistFormat, active), ALLOWLIST_CONTENT_TYPES[format as AllowlistFormat]);
  });
  return r;
}
