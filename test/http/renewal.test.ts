import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/clock.ts';
import { maintenanceTick } from '../../src/main.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, opensslCsrForKey, startServer } from '../helpers/mailca.ts';

type Server = Awaited<ReturnType<typeof startServer>>;
let srv: Server;
let dir: string;
let alice: HttpClient;
let mta: HttpClient;

beforeAll(async () => {
  // 90-day certificates: the window is the last 30 days; overlap 7 days.
  srv = await startServer({ certLifetimeDays: 90, renewalWindowDays: 30, renewalOverlapDays: 7 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-renew-'));
  await addTestUser(srv.m, 'alice@example.test');
  await addTestUser(srv.m, 'bob@example.test');
  alice = new HttpClient(srv.url);
  await alice.login('alice@example.test');
  mta = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'mta')}` });
});
afterAll(async () => {
  await srv?.stop();
});

const allowlist = async () => (await mta.get('/api/v1/allowlist?format=json')).json.certificates as { serial: string }[];
const listed = async (serial: string) => (await allowlist()).some((c) => c.serial === serial);

async function enrol(name: string) {
  const k = opensslCsr(dir, name);
  const res = await alice.post('/api/v1/enrol', { csr: k.csrPem, device_label: 'Laptop' });
  expect(res.status, res.text).toBe(201);
  return { serial: res.json.serial as string, keyFile: k.keyFile, notAfter: new Date(res.json.not_after as string) };
}

describe('renewal', () => {
  it('refuses outside the window with 409 and says when it opens', async () => {
    const cert = await enrol('early');
    const res = await alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, 'early2').csrPem });
    expect(res.status).toBe(409);
    expect(res.json.error).toBe('not_in_renewal_window');
    expect(res.json.message).toMatch(/can be renewed from \d{4}-\d\d-\d\d/);
    const mine = (await alice.get('/api/v1/me/certificates')).json.certificates as { serial: string; renewal_opens: string; renewable: boolean }[];
    expect(new Date(mine.find((c) => c.serial === cert.serial)!.renewal_opens).getTime()).toBe(cert.notAfter.getTime() - 30 * DAY_MS);
    expect(mine.find((c) => c.serial === cert.serial)!.renewable).toBe(false);
  });

  it('renews in the window: both listed during the overlap, only the new one after, old one superseded on the CRL', async () => {
    const cert = await enrol('inwindow');
    srv.clock.advance(61 * DAY_MS);
    const listed61 = (await alice.get('/api/v1/me/certificates')).json.certificates as { serial: string; renewable: boolean }[];
    expect(listed61.find((c) => c.serial === cert.serial)!.renewable).toBe(true);
    // Same key → refused; a new key is required.
    const sameKey = await alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsrForKey(cert.keyFile, path.join(dir, 'same.csr')) });
    expect(sameKey.status).toBe(400);
    expect(sameKey.json.error).toBe('csr_key_reused');
    const renewed = await alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, 'successor').csrPem });
    expect(renewed.status, renewed.text).toBe(201);
    expect(renewed.json).toMatchObject({ email: 'alice@example.test', renewal_of: cert.serial, device_label: 'Laptop' });
    expect(new Date(renewed.json.overlap_ends as string).getTime()).toBe(srv.clock.now().getTime() + 7 * DAY_MS);
    const successor = renewed.json.serial as string;
    expect(await listed(cert.serial)).toBe(true);
    expect(await listed(successor)).toBe(true);
    expect((await alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, 'third').csrPem })).json.error).toBe('already_renewed');

    // The overlap end is the next scheduled boundary; passing it supersedes the predecessor.
    const due = await maintenanceTick(srv.m);
    expect(due!.getTime()).toBeLessThanOrEqual(srv.clock.now().getTime() + 7 * DAY_MS);
    srv.clock.advance(7 * DAY_MS);
    await maintenanceTick(srv.m);
    expect(await listed(cert.serial)).toBe(false);
    expect(await listed(successor)).toBe(true);
    const mine = (await alice.get('/api/v1/me/certificates')).json.certificates as { serial: string; status: string; revocation_reason: string | null }[];
    expect(mine.find((c) => c.serial === cert.serial)).toMatchObject({ status: 'revoked', revocation_reason: 'superseded' });
    expect(await (await fetch(`${srv.url}/crl.pem`)).text()).toBeTruthy();
  });

  it('issues exactly one successor when the same certificate is renewed twice at once', async () => {
    const cert = await enrol('race');
    srv.clock.advance(61 * DAY_MS);
    const both = await Promise.all([1, 2].map((i) => alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, `race${i}`).csrPem })));
    expect(both.map((r) => r.status).sort()).toEqual([201, 409]);
    const mine = (await alice.get('/api/v1/me/certificates')).json.certificates as { serial: string; renewal_of: string | null }[];
    expect(mine.filter((c) => c.renewal_of === cert.serial)).toHaveLength(1);
  });

  it('lets the user end the overlap early', async () => {
    const cert = await enrol('early-end');
    srv.clock.advance(61 * DAY_MS);
    const renewed = await alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, 'early-end2').csrPem });
    expect(renewed.status).toBe(201);
    const ended = await alice.post(`/api/v1/me/certificates/${cert.serial}/end-overlap`, {});
    expect(ended.status).toBe(200);
    expect(ended.json.certificate).toMatchObject({ status: 'revoked', revocation_reason: 'superseded' });
    expect(await listed(cert.serial)).toBe(false);
    expect(await listed(renewed.json.serial as string)).toBe(true);
    expect((await alice.post(`/api/v1/me/certificates/${cert.serial}/end-overlap`, {})).status).toBe(409);
  });

  it('removes a certificate from the lists at its notAfter', async () => {
    const cert = await enrol('expire');
    srv.clock.set(new Date(cert.notAfter.getTime() - 1000));
    await maintenanceTick(srv.m);
    expect(await listed(cert.serial)).toBe(true);
    // The scheduler wakes at the boundary and publishes.
    srv.clock.set(cert.notAfter);
    await maintenanceTick(srv.m);
    expect(await listed(cert.serial)).toBe(false);
    const res = await alice.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, 'expired2').csrPem });
    expect(res.status).toBe(409);
    expect(res.json.error).toBe('not_renewable');
  });

  it("does not renew someone else's certificate", async () => {
    const cert = await enrol('notbobs');
    const bob = new HttpClient(srv.url);
    await bob.login('bob@example.test');
    expect((await bob.post(`/api/v1/me/certificates/${cert.serial}/renew`, { csr: opensslCsr(dir, 'bob').csrPem })).status).toBe(404);
  });
});
