import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaKeyring } from '../../src/issuance/authority.ts';
import { publishDir } from '../../src/config.ts';
import { PROJECT_ROOT } from '../../src/main.ts';
import { Publisher } from '../../src/publishers/publish.ts';
import { Store } from '../../src/store/index.ts';
import { addTestToken, addTestUser, HttpClient, opensslCsr, startServer } from '../helpers/mailca.ts';

const HTTP_DIR = path.join(PROJECT_ROOT, 'src', 'http');

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourcesUnder(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Every import of a module: what it names, whether only as types, and from where (resolved). */
function importsOf(file: string): { names: string[]; typeOnly: boolean; from: string }[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/^import\s+(type\s+)?([\s\S]*?)\s+from\s+'([^']+)';/gm)].map((m) => {
    const spec = m[3]!;
    const names = [...(m[2]!.match(/\{([\s\S]*)\}/)?.[1] ?? m[2]!).split(',')].map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean);
    const from = spec.startsWith('.') ? path.relative(PROJECT_ROOT, path.resolve(path.dirname(file), spec)) : spec;
    return { names, typeOnly: m[1] !== undefined, from };
  });
}

describe('the HTTP tier cannot sign and reads the store only through views', () => {
  const files = sourcesUnder(HTTP_DIR);

  it('finds the route, sign-in and session modules', () => {
    const names = files.map((f) => path.relative(HTTP_DIR, f));
    expect(names).toEqual(expect.arrayContaining(['app.ts', 'principal.ts', 'session-store.ts', 'routes/admin.ts', 'routes/public.ts', 'routes/est.ts', 'sign-in/oidc.ts', 'sign-in/ldap.ts']));
    // The scan sees imports: app.ts imports its routes.
    expect(importsOf(path.join(HTTP_DIR, 'app.ts')).map((i) => i.from)).toContain('src/http/routes/public.ts');
  });

  it.each(files.map((f) => [path.relative(PROJECT_ROOT, f), f]))('%s imports no signer, keyring, store, publisher or enrolment context', (_name, file) => {
    for (const i of importsOf(file)) {
      expect(i.from, `${file} imports ${i.from}`).not.toMatch(/^src\/issuance\/(authority|signer|index)\.ts$|^src\/store\/db\.ts$|^knex$/);
      for (const forbidden of ['EnrolmentContext', 'CaKeyring', 'Signer', 'Issuer', 'Store', 'Publisher']) {
        expect(i.names, `${file} imports ${forbidden} from ${i.from}`).not.toContain(forbidden);
      }
      // From the enrolment context only the actor and policy types; its functions need the context.
      if (i.from === 'src/enrolment/context.ts') expect(i.names.filter((n) => n !== 'Actor' && n !== 'IssuancePolicy')).toEqual([]);
      // The publisher module only for its file names, DER helper and read-side type.
      if (i.from === 'src/publishers/publish.ts') expect(i.names.filter((n) => !['PUBLISHED_FILES', 'pemToDer', 'PublishedReads'].includes(n))).toEqual([]);
    }
  });
});

/** Every object reachable from `root` through own properties (values, not getters), with the path to it. */
function reachable(root: object): Map<object, string> {
  const seen = new Map<object, string>([[root, 'capabilities']]);
  const queue: object[] = [root];
  while (queue.length) {
    const o = queue.shift()!;
    const at = seen.get(o)!;
    const children: [PropertyKey, unknown][] = [];
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d && 'value' in d) children.push([key, d.value]);
    }
    if (o instanceof Map) for (const [k, v] of o) children.push([`get(${String(k)})`, v]);
    if (o instanceof Set) for (const v of o) children.push(['item', v]);
    for (const [key, v] of children) {
      if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
        if (seen.has(v)) continue;
        seen.set(v, `${at}.${String(key)}`);
        queue.push(v);
      }
    }
  }
  return seen;
}

describe('what the HTTP tier is handed', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  let admin: HttpClient;
  let dir: string;

  beforeAll(async () => {
    srv = await startServer();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-caps-'));
    admin = new HttpClient(srv.url, { authorization: `Bearer ${await addTestToken(srv.m, 'admin')}` });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('holds no store, keyring, publisher or context, only functions and views', () => {
    const caps = srv.server.capabilities;
    expect(Object.keys(caps).sort()).toEqual(['clock', 'enrolment', 'log', 'published', 'reads', 'renewal', 'sessions']);
    const all = reachable(caps);
    // The walk sees through the views to their functions.
    expect(all.get(caps.reads.certificates.list)).toBe('capabilities.reads.certificates.list');
    expect(all.get(caps.enrolment.enrol)).toBe('capabilities.enrolment.enrol');
    for (const [value, at] of all) {
      for (const cls of [Store, CaKeyring, Publisher]) expect(value instanceof cls, `${at} is a ${cls.name}`).toBe(false);
      expect(value, at).not.toBe(srv.m.ctx);
      expect(value, at).not.toBe(srv.m.ctx.publish);
      for (const key of ['keyring', 'store', 'ctx', 'db', 'publish', 'withLock', 'transaction']) expect(Object.hasOwn(value, key), `${at} has "${key}"`).toBe(false);
    }
    for (const [name, f] of Object.entries(caps.enrolment)) expect(typeof f, name).toBe('function');
    expect(Object.isFrozen(caps.enrolment) && Object.isFrozen(caps.reads) && Object.isFrozen(caps.published) && Object.isFrozen(caps.sessions)).toBe(true);
    // The views offer reads only.
    expect(Object.keys(caps.reads.certificates)).not.toContain('insert');
    expect(Object.keys(caps.reads.users).sort()).toEqual(['count', 'findByEmail', 'findById']);
    expect(Object.keys(caps.sessions).sort()).toEqual(['destroy', 'get', 'set', 'touch']);
    expect(Object.keys(caps.published).sort()).toEqual(['currentCrls', 'file', 'trustedCas', 'waitForChange']);
  });

  it('GETs of the CRLs and the bundle serve what was published and never sign', async () => {
    // A certificate to revoke later (its issuance signs; counting starts after it).
    const alice = await addTestUser(srv.m, 'alice@example.test');
    const { csrPem } = opensslCsr(dir, 'alice');
    const user = new HttpClient(srv.url);
    expect((await user.login(alice.email)).status).toBe(200);
    const enrolled = await user.post('/api/v1/enrol', { csr: csrPem });
    expect(enrolled.status, enrolled.text).toBe(201);

    // Every signature the CA key makes is counted.
    const issuer = await srv.m.keyring.active();
    const sign = issuer.signer.sign.bind(issuer.signer);
    let signatures = 0;
    Object.assign(issuer.signer, { sign: (data: Uint8Array) => (signatures++, sign(data)) });
    const caId = issuer.ca.id;
    const published = (name: string) => readFileSync(path.join(publishDir(srv.m.config), name));
    const get = async (p: string) => Buffer.from(await (await fetch(`${srv.url}${p}`)).arrayBuffer());
    const getAll = async () => {
      for (let i = 0; i < 5; i++) {
        expect((await get('/crl.pem')).equals(published('crl.pem'))).toBe(true);
        expect((await get('/crl.der')).equals(published('crl.der'))).toBe(true);
        expect((await get(`/crl/${caId}.der`)).equals(published('crl.der'))).toBe(true);
        expect((await get(`/crl/${caId}.pem`)).toString()).toBe(published('crl.pem').toString());
        expect((await get('/ca.pem')).equals(published('ca.pem'))).toBe(true);
        expect((await fetch(`${srv.url}/.well-known/est/cacerts`)).status).toBe(200);
      }
    };
    await getAll();
    expect(signatures).toBe(0);

    // A revocation is signed into the CRL once, by the publisher on its own schedule (within a second on
    // a server), however often the CRL is fetched meanwhile.
    const crlBefore = published('crl.pem').toString();
    expect((await admin.post(`/api/v1/certificates/${String(enrolled.json.serial)}/revoke`, { reason: 'superseded' })).status).toBe(200);
    await getAll();
    await vi.waitFor(async () => expect((await get('/crl.pem')).toString()).not.toBe(crlBefore), { timeout: 10_000, interval: 50 });
    await getAll();
    await srv.m.publisher.settled();
    expect(signatures).toBe(1);
  });
});
