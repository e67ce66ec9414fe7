import { Router } from 'express';
import { BadRequest } from '../../errors.ts';
import { ALLOWLIST_FORMATS, consumerFormat, DEFAULT_FORMAT, ENFORCEMENT_FORMATS, SENDER_LOGIN_FORMATS, type AllowlistFormat, type ConsumerFormat } from '../../publishers/formats/index.ts';
import type { PublishedReads } from '../../publishers/publish.ts';
import { sendLongPolled, type LongPollLimit } from '../long-poll.ts';
import { requireRole } from '../principal.ts';

function pickFormat(v: unknown, allowed: readonly AllowlistFormat[]): ConsumerFormat {
  const format = v === undefined || v === '' ? DEFAULT_FORMAT : String(v);
  if (!(allowed as readonly string[]).includes(format)) throw new BadRequest('invalid_format', `format must be one of: ${allowed.join(', ')}`);
  return consumerFormat(format as AllowlistFormat);
}

/** What MTAs pull (mta or admin token): the last published lists and maps; long poll with ?wait=. */
export function allowlistRoutes(deps: { publisher: PublishedReads; longPolls: LongPollLimit }): Router {
  const r = Router();
  r.get('/allowlist', requireRole('mta'), async (req, res) => {
    await sendLongPolled(req, res, deps.publisher, pickFormat(req.query.format, ALLOWLIST_FORMATS).allowlistFile, deps.longPolls);
  });
  r.get('/enforcement', requireRole('mta'), async (req, res) => {
    const map = pickFormat(req.query.format, ENFORCEMENT_FORMATS).enforcement;
    if (!map) throw new BadRequest('invalid_format', 'this format has no enforcement map');
    await sendLongPolled(req, res, deps.publisher, map.file, deps.longPolls);
  });
  r.get('/senders', requireRole('mta'), async (req, res) => {
    const map = pickFormat(req.query.format, SENDER_LOGIN_FORMATS).senderLogins;
    if (!map) throw new BadRequest('invalid_format', 'this format has no sender-login map');
    await sendLongPolled(req, res, deps.publisher, map.file, deps.longPolls);
  });
  return r;
}
