import { BadRequest } from '../errors.ts';
import type { CertificateStatus } from '../store/index.ts';

export function pageParams(query: Record<string, unknown>, defaults = { limit: 50, max: 500 }): { limit: number; offset: number } {
  const num = (name: string, v: unknown, fallback: number, min: number, max: number) => {
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isInteger(n) || n < min || n > max) {
      throw new BadRequest('invalid_' + name, `${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
  return { limit: num('limit', query.limit, defaults.limit, 1, defaults.max), offset: num('offset', query.offset, 0, 0, Number.MAX_SAFE_INTEGER) };
}

const STATUSES: readonly CertificateStatus[] = ['active', 'revoked', 'expired', 'not_yet_valid'];

/** The optional `status` filter of certificate listings. */
export function statusParam(query: Record<string, unknown>): CertificateStatus | undefined {
  const v = query.status;
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !STATUSES.includes(v as CertificateStatus)) {
    throw new BadRequest('invalid_status', `status must be one of: ${STATUSES.join(', ')}`);
  }
  return v as CertificateStatus;
}
