// Bench-only: a CA on a fresh database, set up through mailca's own entry points (openMailca,
// addUser, createToken, enrol, revoke), and signing users in over HTTP.

import http from 'node:http';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import type { Actor } from '../../src/enrolment/context.ts';
import { enrol } from '../../src/enrolment/enrol.ts';
import { revoke } from '../../src/enrolment/revoke.ts';
import { createToken } from '../../src/enrolment/tokens.ts';
import { addUser } from '../../src/enrolment/users.ts';
import { openMailca } from '../../src/main.ts';
import { p256CsrPem } from './csr.ts';
import type { BenchDatabase } from './database.ts';
import { httpRequest } from './http.ts';
import { benchConfig } from './server.ts';

export const BENCH_PASSWORD = 'bench password for every user';
const actor: Actor = { id: 'cli:bench', sourceIp: null };

export interface PreparedCa {
  db: BenchDatabase;
  /** Users who sign in and enrol (user0@…, user1@…). */
  userEmails: string[];
  adminToken: string;
  mtaToken: string;
  /** Real certificates issued and revoked through mailca: the rows bulk seeding copies. */
  templates?: { activeSerial: string; revokedSerial: string };
}

export async function prepareCa(db: BenchDatabase, opts: { users: number; templates?: boolean }): Promise<PreparedCa> {
  const m = await openMailca(loadConfig({}, benchConfig(db)), { log: pino({ level: 'silent' }), createCaIfMissing: true });
  try {
    const userEmails = Array.from({ length: Math.max(1, opts.users) }, (_, i) => `user${i}@example.test`);
    const first = await addUser(m.ctx, actor, { email: userEmails[0], password: BENCH_PASSWORD });
    // One scrypt hash for all (hashing costs ~0.1 s each); the users are otherwise ordinary rows.
    for (const email of userEmails.slice(1)) {
      await m.store.users.insert({ email, displayName: null, isAdmin: false, passwordHash: first.passwordHash, createdAt: new Date() });
    }
    const adminToken = (await createToken(m.ctx, actor, { role: 'admin', name: 'bench-admin' })).token;
    const mtaToken = (await createToken(m.ctx, actor, { role: 'mta', name: 'bench-mta' })).token;
    let templates: PreparedCa['templates'];
    if (opts.templates) {
      const active = await enrol(m.ctx, actor, { user: first, csr: p256CsrPem('template'), deviceLabel: 'Laptop' });
      const revoked = await enrol(m.ctx, actor, { user: first, csr: p256CsrPem('template'), deviceLabel: 'Phone' });
      await revoke(m.ctx, actor, { serial: revoked.record.serial, reason: 'cessationOfOperation' });
      templates = { activeSerial: active.record.serial, revokedSerial: revoked.record.serial };
    }
    return { db, userEmails, adminToken, mtaToken, templates };
  } finally {
    await m.close();
  }
}

/** Signs in over HTTP (POST /api/v1/login) and returns the session cookie header. */
export async function signIn(agent: http.Agent, baseUrl: string, email: string, password = BENCH_PASSWORD): Promise<string> {
  const res = await httpRequest(agent, baseUrl, { method: 'POST', path: '/api/v1/login', body: { email, password } });
  if (res.status !== 200) throw new Error(`sign-in of ${email}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  const cookies = res.headers['set-cookie'] ?? [];
  const sid = cookies.map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('mailca.sid='));
  if (!sid) throw new Error(`sign-in of ${email}: no session cookie`);
  return sid;
}

/** A non-2xx answer as an error text for runLoad. */
export function expectStatus(res: { status: number; body: string }, ...ok: number[]): string | undefined {
  return ok.includes(res.status) ? undefined : `HTTP ${res.status} ${res.body.slice(0, 200)}`;
}

/** Revokes through the admin API (what an operator's script or the admin portal does). */
export async function revokeOverHttp(agent: http.Agent, baseUrl: string, adminToken: string, serial: string): Promise<string | undefined> {
  const res = await httpRequest(agent, baseUrl, { method: 'POST', path: `/api/v1/certificates/${serial}/revoke`, headers: { authorization: `Bearer ${adminToken}` }, body: { reason: 'cessationOfOperation' } });
  return expectStatus(res, 200);
}
