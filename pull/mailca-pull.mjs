#!/usr/bin/env node
// mailca-pull: keeps an MTA's client-certificate allow-list (and optionally the CA bundle, the CRL
// and the enforcement table) in step with a mailca server.
//
// One self-contained file, Node.js 20+ only, no packages. To install it on a mail host:
//
//   install -m 0755 mailca-pull.mjs /usr/local/bin/mailca-pull
//
// (copy pull/mailca-pull.mjs from the mailca source tree). `mailca pull …` runs this same file.
//
// A file is only ever replaced by a complete download that parses as the requested format:
// temp file in the same directory → fsync → rename → fsync the directory. On any error the old
// file stays as it was.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';


const PROG = 'mailca-pull';
/** Seconds the server may hold a long poll; below common proxy idle timeouts (the server caps at 60). */
const WAIT_SECONDS = 25;
const REQUEST_TIMEOUT_MS = 30_000;
/** In --watch, at most one round per second when the server answers at once (no long poll). */
const MIN_ROUND_MS = 1000;
const MAX_BACKOFF_S = 30;

class UsageError extends Error {}
class PullError extends Error {}

// ---------------------------------------------------------------------------------------------
// Formats: validation and entry counts

const FINGERPRINT_COLON = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const isCommentOrBlank = (line) => /^\s*(#.*)?$/.test(line);

/** Lines of a text table, refusing a body that does not end with a newline (the server always ends with one). */
function textLines(text) {
  if (text.length === 0) throw new PullError('the body is empty');
  if (!text.endsWith('\n')) throw new PullError('the body does not end with a newline (truncated?)');
  return text.slice(0, -1).split('\n');
}

const show = (line) => JSON.stringify(line.length > 60 ? line.slice(0, 60) + '…' : line);

/** Checks each entry line of a table against `re`; returns the number of entries. */
function tableEntries(text, re, expected) {
  let n = 0;
  textLines(text).forEach((line, i) => {
    if (isCommentOrBlank(line)) return;
    if (!re.test(line)) throw new PullError(`line ${i + 1} is not ${expected}: ${show(line)}`);
    n++;
  });
  return n;
}

function jsonEntries(text) {
  if (!text.endsWith('\n')) throw new PullError('the body does not end with a newline (truncated?)');
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PullError(`not JSON (${e.message})`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.certificates)) throw new PullError('no "certificates" array');
  doc.certificates.forEach((c, i) => {
    if (!c || typeof c.fingerprint_sha256 !== 'string' || !FINGERPRINT_COLON.test(c.fingerprint_sha256.toUpperCase())) {
      throw new PullError(`certificates[${i}] has no valid "fingerprint_sha256"`);
    }
  });
  return doc.certificates.length;
}

/** The length a DER SEQUENCE says it has must be the length we got (catches cut-off blocks). */
function derIsComplete(der) {
  if (der.length < 2 || der[0] !== 0x30) return false;
  let len = der[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || der.length < 2 + n) return false;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
    off += n;
  }
  return off + len === der.length;
}

/**
 * A file of PEM blocks with the labels in `labels` (in that order: all blocks of the first label, then of the
 * next…) and nothing else but whitespace; `check(der, i, label)` vets each. Returns the number of blocks.
 */
function pemEntries(text, labels, check) {
  if (!text.endsWith('\n')) throw new PullError('the body does not end with a newline (truncated?)');
  const block = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----\r?\n?/g;
  const expected = labels.join(' and ');
  let n = 0;
  let at = 0;
  const seen = labels.map(() => 0);
  const rest = text.replace(block, (_all, got, b64) => {
    const i = labels.indexOf(got);
    if (i < 0) throw new PullError(`contains a ${got} block; expected only ${expected}`);
    if (i < at) throw new PullError(`a ${got} block after a ${labels[at]} block; expected ${expected} in that order`);
    at = i;
    const der = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
    if (!derIsComplete(der)) throw new PullError(`${got} block ${seen[i] + 1} is not complete DER`);
    if (check) check(der, seen[i], got);
    seen[i]++;
    n++;
    return '';
  });
  if (rest.trim() !== '') throw new PullError(`contains something other than PEM blocks: ${show(rest.trim().split('\n')[0])}`);
  labels.forEach((label, i) => {
    if (seen[i] === 0) throw new PullError(`no -----BEGIN ${label}----- block`);
  });
  return n;
}

function checkCertificate(der, i, label = 'CERTIFICATE') {
  if (label !== 'CERTIFICATE') return;
  try {
    new X509Certificate(der);
  } catch (e) {
    throw new PullError(`certificate ${i + 1} does not parse (${e.message})`);
  }
}

/** How a pulled body is checked: what it is called, what it counts, and how (strict; `lenient` for the file as it is). */
const CHECKS = {
  postfixAllowlist: { what: 'postfix allow-list', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^([0-9A-F]{2}:){31}[0-9A-F]{2} OK$/, '"AA:BB:…:FF OK"') },
  eximAllowlist: { what: 'exim allow-list', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^[0-9A-F]{64}: \S+( : \S+)*$/, '"<64 hex digits>: owner : alias…"') },
  jsonAllowlist: { what: 'JSON allow-list', unit: ['entry', 'entries'], count: jsonEntries, lenient: jsonEntriesLenient, accept: 'application/json' },
  postfixEnforcement: { what: 'postfix enforcement table', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^\S+@\S+ (REJECT|OK|DUNNO)( .*)?$/, '"user@domain REJECT …"') },
  eximEnforcement: { what: 'exim enforcement table', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^\S+@\S+: .+$/, '"user@domain: value"') },
  postfixSenders: { what: 'postfix senders table', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^\S+@\S+ \S+$/, '"sender@domain login,…"') },
  eximSenders: { what: 'exim senders table', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^\S+@\S+: \S+( : \S+)*$/, '"login@domain: owner : alias…"') },
  dovecotAllowlist: { what: 'dovecot allow-list', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^[0-9a-f]{32}:{7}nopassword=yes user=\S+$/, '"<serial>:::::::nopassword=yes user=owner"') },
  dovecotEnforcement: { what: 'dovecot enforcement table', unit: ['entry', 'entries'], count: (t) => tableEntries(t, /^[^\s:]+@[^\s:]+:$/, '"user@domain:"') },
  ca: { what: 'CA bundle', unit: ['certificate', 'certificates'], count: (t) => pemEntries(t, ['CERTIFICATE'], checkCertificate) },
  crl: { what: 'CRL file', unit: ['CRL', 'CRLs'], count: (t) => pemEntries(t, ['X509 CRL']) },
  caCrl: { what: 'CA and CRL file', unit: ['PEM block', 'PEM blocks'], count: (t) => pemEntries(t, ['CERTIFICATE', 'X509 CRL'], checkCertificate) },
};

/**
 * The consumer formats, as mailca's registry (src/publishers/formats/) has them: per --format, the allow-list and the
 * maps --enforcement-out and --senders-out fetch (`format`: the ?format= of the senders endpoint), the names mailca
 * publishes them under, and how a pulled body is checked before it replaces the file. This file runs alone on a mail
 * host and cannot import the registry; test/pull/formats.test.ts holds the two together. A new format = one entry.
 */
export const PULL_FORMATS = {
  postfix: {
    allowlist: { file: 'allowlist.postfix', help: 'check_ccert_access', check: CHECKS.postfixAllowlist },
    enforcement: { file: 'enforcement.postfix', help: 'check_sasl_access', check: CHECKS.postfixEnforcement },
    senders: { format: 'postfix', file: 'senders.postfix', help: 'smtpd_sender_login_maps, "sender login,…"', check: CHECKS.postfixSenders },
  },
  exim: {
    allowlist: { file: 'allowlist.exim', help: 'lsearch', check: CHECKS.eximAllowlist },
    enforcement: { file: 'enforcement.exim', help: 'lsearch', check: CHECKS.eximEnforcement },
    senders: { format: 'exim', file: 'senders.exim', help: 'lsearch, "login: owner : alias…"', check: CHECKS.eximSenders },
  },
  json: {
    allowlist: { file: 'allowlist.json', help: 'for the policy service', check: CHECKS.jsonAllowlist },
    // The policy service answers socketmap lookups of the Postfix senders table.
    senders: { format: 'postfix', file: 'senders.postfix', help: 'the policy service\'s socketmap', check: CHECKS.postfixSenders },
    policyService: true,
  },
  dovecot: {
    allowlist: { file: 'allowlist.dovecot', help: 'passwd-file keyed by the certificate\'s serialNumber', check: CHECKS.dovecotAllowlist },
    enforcement: { file: 'enforcement.dovecot', help: 'passwd-file for a deny passdb', check: CHECKS.dovecotEnforcement },
    // Dovecot reads the CA certificates and their CRLs from one file (ssl_ca): --ca-crl-out.
    caCrl: true,
  },
};

const FORMAT_NAMES = Object.keys(PULL_FORMATS);
const POLICY_FORMATS = FORMAT_NAMES.filter((f) => PULL_FORMATS[f].policyService);
const formatsWith = (map) => FORMAT_NAMES.filter((f) => PULL_FORMATS[f][map]);
const oneOf = (names) => (names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join(''));
const mapHelp = (map) => formatsWith(map).map((f) => `\n                          ${f}: ${PULL_FORMATS[f][map].help}`).join(';');

function jsonEntriesLenient(text) {
  try {
    const doc = JSON.parse(text);
    return Array.isArray(doc?.certificates) ? doc.certificates.length : 0;
  } catch {
    return 0;
  }
}

/** Entries in the file as it is now, leniently (a file that no longer parses counts what it can). */
function currentEntries(check, bytes) {
  if (!bytes) return 0;
  const text = bytes.toString('utf8');
  if (check.lenient) return check.lenient(text);
  return text.split('\n').filter((l) => !isCommentOrBlank(l)).length;
}

export const USAGE = `Usage: mailca-pull --url URL --token-file FILE --format ${FORMAT_NAMES.join('|')} --out FILE [options]
       mailca-pull --url URL --token-file FILE --format ${POLICY_FORMATS.join('|')} --out FILE --watch
                   --policy-listen inet:HOST:PORT|unix:PATH [--senders-out FILE] [options]
       (the same as: mailca pull …)

Fetches the client-certificate allow-list from a mailca server and installs it
atomically; a file is replaced only by a complete download that parses as the
requested format. On any error the old file is kept.

  --url URL               mailca base URL, e.g. https://ca.example.org
  --token-file FILE       read the bearer token (role mta) from FILE (recommended)
  --token TOKEN           the token itself; other local users can read it with ps(1),
                          so prefer --token-file or the MAILCA_PULL_TOKEN variable
  --format FORMAT         the allow-list's format:${mapHelp('allowlist')}
  --out FILE              the allow-list file to maintain
  --ca-out FILE           also maintain the CA bundle (URL/ca.pem)
  --crl-out FILE          also maintain the CRL(s) (URL/crl.pem)
  --ca-crl-out FILE       also maintain the CA bundle followed by the CRL(s) in one file
                          (URL/ca-crl.pem; Dovecot's ssl_ca)
  --enforcement-out FILE  also maintain the enforcement table, by --format:${mapHelp('enforcement')}
  --senders-out FILE      also maintain the senders table, by --format:${mapHelp('senders')}
  --then COMMAND          run COMMAND with /bin/sh -c after a file changed, e.g.
                          'postmap lmdb:/etc/postfix/mailca-allowlist && postfix reload'
                          (if it fails it runs again on the next pull)
  --allow-empty           accept an allow-list with no entries replacing one with entries
  --watch                 keep running; changes arrive within about a second (long poll);
                          errors are logged and retried with backoff; SIGTERM stops it
  --policy-listen ADDR    with --format ${oneOf(POLICY_FORMATS)} and --watch: also answer Postfix policy
                          requests (check_policy_service) and socketmap lookups of the
                          senders table (socketmap:ADDR:senders) on inet:HOST:PORT or
                          unix:PATH, from memory; FILE (and --senders-out) are loaded at
                          start, so answers go on while mailca is unreachable
  --policy-socket-mode M  unix: socket mode, octal (default 0660)
  --policy-socket-group G unix: socket group (name or number), e.g. postfix
  -h, --help              show this help

Environment: MAILCA_PULL_TOKEN  the token, when neither --token nor --token-file is given.
State (ETags): FILE.mailca-pull.json next to --out.
Exit status: 0 updated or unchanged, 1 error (old files kept), 2 usage error.
File names as mailca publishes them (what mailca mta-config --files-dir expects):
${FORMAT_NAMES.map((f) => `  --format ${f}: ${Object.entries(PULL_FORMATS[f]).filter(([, m]) => m && m.file).map(([k, m]) => `${k} ${m.file}`).join(', ')}${PULL_FORMATS[f].caCrl ? ' (its MTA reads ca-crl.pem: --ca-crl-out)' : ''}`).join('\n')}
Install on a mail host (Node.js 20+, nothing else):
  install -m 0755 mailca-pull.mjs /usr/local/bin/mailca-pull`;

// ---------------------------------------------------------------------------------------------
// Command line

/** Parses argv into a config; throws UsageError. Returns null for --help. */
export function parseCommandLine(argv, env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
        'ca-out': { type: 'string' },
        'crl-out': { type: 'string' },
        'ca-crl-out': { type: 'string' },
        'enforcement-out': { type: 'string' },
        'senders-out': { type: 'string' },
        'policy-listen': { type: 'string' },
        'policy-socket-mode': { type: 'string' },
        'policy-socket-group': { type: 'string' },
        then: { type: 'string' },
        'allow-empty': { type: 'boolean' },
        watch: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // parseArgs' messages are multi-line with hints; keep the first sentence.
    throw new UsageError(String(e.message).split('\n')[0].replace(/\. To specify a positional.*$/, ''));
  }
  const o = parsed.values;
  if (o.help) return null;
  for (const name of ['url', 'format', 'out']) if (!o[name]) throw new UsageError(`--${name} is required (see --help)`);

  let base;
  try {
    base = new URL(o.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${o.url}`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new UsageError(`--url must be http(s)://…, not ${base.protocol}`);
  if (base.search || base.hash) throw new UsageError('--url is the base URL of mailca, without ?query or #fragment');
  if (base.username || base.password) throw new UsageError('--url must not contain credentials; use --token-file');
  const baseUrl = base.href.replace(/\/+$/, '');

  if (!Object.hasOwn(PULL_FORMATS, o.format)) throw new UsageError(`--format must be ${oneOf(FORMAT_NAMES)}, not ${JSON.stringify(o.format)}`);
  const format = PULL_FORMATS[o.format];
  for (const map of ['enforcement', 'senders']) {
    if (o[`${map}-out`] && !format[map]) throw new UsageError(`--${map}-out needs --format ${oneOf(formatsWith(map))}`);
  }

  if (o.token && o['token-file']) throw new UsageError('give --token or --token-file, not both');
  let token = o.token ?? env.MAILCA_PULL_TOKEN;
  if (o['token-file']) {
    try {
      token = fs.readFileSync(o['token-file'], 'utf8').trim();
    } catch (e) {
      throw new UsageError(`cannot read --token-file ${o['token-file']}: ${e.code ?? e.message}`);
    }
    if (!token) throw new UsageError(`--token-file ${o['token-file']} is empty`);
  }
  token = token?.trim();
  if (!token) throw new UsageError('no token: give --token-file FILE, --token TOKEN or MAILCA_PULL_TOKEN');
  if (/\s/.test(token)) throw new UsageError('the token contains whitespace');
  if (o.then !== undefined && o.then.trim() === '') throw new UsageError('--then needs a command');

  const enc = encodeURIComponent;
  const targets = [
    { key: 'allowlist', file: o.out, url: `${baseUrl}/api/v1/allowlist?format=${enc(o.format)}`, check: format.allowlist.check, auth: true, longPoll: true, emptyCheck: true },
  ];
  if (o['enforcement-out']) {
    targets.push({ key: 'enforcement', file: o['enforcement-out'], url: `${baseUrl}/api/v1/enforcement?format=${enc(o.format)}`, check: format.enforcement.check, auth: true, longPoll: true, emptyCheck: false });
  }
  if (o['senders-out']) {
    targets.push({ key: 'senders', file: o['senders-out'], url: `${baseUrl}/api/v1/senders?format=${enc(format.senders.format)}`, check: format.senders.check, auth: true, longPoll: true, emptyCheck: false });
  }
  if (o['ca-out']) targets.push({ key: 'ca', file: o['ca-out'], url: `${baseUrl}/ca.pem`, check: CHECKS.ca, auth: false, longPoll: false, emptyCheck: false });
  if (o['crl-out']) targets.push({ key: 'crl', file: o['crl-out'], url: `${baseUrl}/crl.pem`, check: CHECKS.crl, auth: false, longPoll: false, emptyCheck: false });
  if (o['ca-crl-out']) targets.push({ key: 'ca-crl', file: o['ca-crl-out'], url: `${baseUrl}/ca-crl.pem`, check: CHECKS.caCrl, auth: false, longPoll: false, emptyCheck: false });

  const seen = new Set();
  for (const t of targets) {
    t.file = path.resolve(t.file);
    if (seen.has(t.file)) throw new UsageError(`${t.file} is given for two outputs`);
    seen.add(t.file);
  }
  const stateFile = path.resolve(o.out) + '.mailca-pull.json';
  if (seen.has(stateFile)) throw new UsageError(`${stateFile} is mailca-pull's state file; choose another output name`);

  let policy = null;
  if (o['policy-listen'] !== undefined) {
    if (!format.policyService) throw new UsageError(`--policy-listen needs --format ${oneOf(POLICY_FORMATS)} (the policy service answers from that list)`);
    if (!o.watch) throw new UsageError('--policy-listen needs --watch (the service runs as long as the client)');
    const listen = parseListen(o['policy-listen']);
    let socketMode = 0o660;
    if (o['policy-socket-mode'] !== undefined) {
      if (!/^0?[0-7]{3}$/.test(o['policy-socket-mode'])) throw new UsageError(`--policy-socket-mode must be octal like 0660, not ${JSON.stringify(o['policy-socket-mode'])}`);
      socketMode = parseInt(o['policy-socket-mode'], 8);
    }
    if (listen.kind !== 'unix' && (o['policy-socket-mode'] !== undefined || o['policy-socket-group'] !== undefined)) {
      throw new UsageError('--policy-socket-mode and --policy-socket-group are for --policy-listen unix:PATH');
    }
    const socketGroup = o['policy-socket-group'] !== undefined ? groupId(o['policy-socket-group']) : undefined;
    policy = { listen, socketMode, socketGroup };
  } else if (o['policy-socket-mode'] !== undefined || o['policy-socket-group'] !== undefined) {
    throw new UsageError('--policy-socket-mode and --policy-socket-group need --policy-listen unix:PATH');
  }

  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(base.hostname);
  return {
    baseUrl,
    plainHttp: base.protocol === 'http:' && !loopback,
    token,
    targets,
    stateFile,
    then: o.then,
    allowEmpty: Boolean(o['allow-empty']),
    watch: Boolean(o.watch),
    policy,
    portalUrl: baseUrl + '/',
  };
}

// ---------------------------------------------------------------------------------------------
// Files and state

function readIfExists(file) {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw new PullError(`cannot read ${file}: ${e.code ?? e.message}`);
  }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** temp file in the same directory → fsync → rename → fsync the directory; keeps an existing file's mode. */
function writeFileAtomic(file, bytes, defaultMode = 0o644) {
  let target = file;
  try {
    target = fs.realpathSync(file); // replace a symlink's target, not the symlink
  } catch {
    /* does not exist yet */
  }
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  let mode = defaultMode;
  try {
    mode = fs.statSync(target).mode & 0o7777;
  } catch {
    /* new file */
  }
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fchmodSync(fd, mode); // openSync's mode is filtered by the umask
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

const stateJson = (state) => JSON.stringify({ version: 1, files: state.files, thenPending: state.thenPending }, null, 2) + '\n';

function loadState(stateFile) {
  let state = { files: {}, thenPending: false };
  try {
    const s = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    if (s && typeof s === 'object' && s.version === 1 && s.files && typeof s.files === 'object') state = { files: s.files, thenPending: Boolean(s.thenPending) };
  } catch {
    /* missing or unreadable: start afresh (full downloads) */
  }
  state.saved = stateJson(state);
  return state;
}

/** Writes the state file when it changed (not on every unchanged round in --watch). */
function saveState(stateFile, state) {
  const json = stateJson(state);
  if (json === state.saved) return;
  try {
    writeFileAtomic(stateFile, Buffer.from(json));
    state.saved = json;
  } catch (e) {
    throw new PullError(`cannot write state file ${stateFile}: ${e.code ?? e.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** A short, single-line reason from an error response (mailca sends {error, message}). */
function serverReason(text) {
  try {
    const j = JSON.parse(text);
    if (j && typeof j.message === 'string') return j.message;
  } catch {
    /* not JSON */
  }
  const line = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > 120 ? line.slice(0, 120) + '…' : line;
}

function describeFetchError(e) {
  const c = e?.cause;
  if (c?.code === 'ECONNREFUSED') return `connection refused (${c.address ?? ''}${c.port ? ':' + c.port : ''})`.replace(' ()', '');
  if (c?.code === 'ENOTFOUND' || c?.code === 'EAI_AGAIN') return `cannot resolve ${c.hostname ?? 'the host'} (${c.code})`;
  if (e?.name === 'TimeoutError') return 'no response in time (timeout)';
  if (c?.code) return `${c.code}${c.message ? ': ' + c.message : ''}`;
  if (c?.message) return c.message;
  return e?.message ?? String(e);
}

/**
 * One conditional GET of one target; never throws. Validates a new body but writes nothing.
 * → {kind: 'unchanged' | 'same' | 'new' | 'error' | 'aborted', …}
 */
async function fetchTarget(cfg, t, cached, { wait, signal }) {
  const label = path.basename(t.file);
  const url = t.url + (wait ? `${t.url.includes('?') ? '&' : '?'}wait=${wait}` : '');
  const headers = { 'user-agent': 'mailca-pull/1', accept: t.check.accept ?? 'text/plain, application/x-pem-file, */*;q=0.1' };
  if (t.auth) headers.authorization = `Bearer ${cfg.token}`;
  if (cached.etag) headers['if-none-match'] = cached.etag;
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS + (wait ? wait * 1000 : 0));
  const fail = (message) => ({ kind: 'error', message: `${label}: ${message}; kept the old file` });
  let res;
  let bytes;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.any([signal, timeout]), redirect: 'manual', cache: 'no-store' });
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (e) {
    if (signal.aborted) return { kind: 'aborted' };
    const what = res ? 'the connection broke while reading the body (truncated)' : `cannot reach ${t.url}`;
    return fail(`${what}: ${describeFetchError(e)}`);
  }
  const where = `from ${t.url}`;
  if (res.status === 304) {
    if (!cached.etag) return fail(`HTTP 304 ${where} to a request without If-None-Match`);
    return { kind: 'unchanged', etag: cached.etag };
  }
  if (res.status >= 300 && res.status < 400) {
    return fail(`HTTP ${res.status} ${where}: redirected to ${res.headers.get('location') ?? '(nowhere)'} (redirects are not followed, so the token is never sent elsewhere; point --url at the server directly)`);
  }
  if (res.status === 401 || res.status === 403) {
    return fail(`the server refused the token (HTTP ${res.status} ${where}: ${serverReason(bytes.toString('utf8'))})`);
  }
  if (res.status === 404 && t.key === 'enforcement') {
    return fail(`HTTP 404 ${where}: this mailca server has no enforcement endpoint; upgrade it or drop --enforcement-out`);
  }
  if (res.status === 404 && t.key === 'senders') {
    return fail(`HTTP 404 ${where}: this mailca server has no senders endpoint; upgrade it or drop --senders-out`);
  }
  if (res.status !== 200) return fail(`HTTP ${res.status} ${where}: ${serverReason(bytes.toString('utf8')) || res.statusText}`);

  const declared = res.headers.get('content-length');
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  if (declared !== null && !encoded && Number(declared) !== bytes.length) {
    return fail(`truncated body ${where}: Content-Length ${declared}, got ${bytes.length} bytes`);
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(`the body ${where} is not UTF-8 text`);
  }
  const fmt = t.check;
  let entries;
  try {
    entries = fmt.count(text);
  } catch (e) {
    if (!(e instanceof PullError)) throw e;
    return fail(`the body ${where} is not a valid ${fmt.what}: ${e.message}`);
  }
  const etag = res.headers.get('etag') ?? undefined;
  if (cached.current && cached.current.equals(bytes)) return { kind: 'same', etag, entries };
  if (t.emptyCheck && entries === 0 && !cfg.allowEmpty) {
    const had = currentEntries(t.check, cached.current);
    if (had > 0) return fail(`the server sent an empty list but the current file has ${had} ${fmt.unit[1]}; refusing (give --allow-empty if that is intended)`);
  }
  return { kind: 'new', etag, entries, bytes };
}

// ---------------------------------------------------------------------------------------------
// A round: fetch everything, write what changed, run --then

/** The remembered ETag counts only while the file is still what we wrote. */
function cachedFor(state, t) {
  const current = readIfExists(t.file);
  const s = state.files[t.key];
  const valid = current && s && s.file === t.file && s.url === t.url && s.sha256 === sha256(current) && typeof s.etag === 'string';
  return { current, etag: valid ? s.etag : undefined };
}

function runThen(command, changed, io) {
  return new Promise((resolve) => {
    // The command needs no token: keep it out of its environment.
    const { MAILCA_PULL_TOKEN: _token, ...env } = io.env;
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...env, MAILCA_PULL_CHANGED: changed.join(' ') },
    });
    child.on('error', (e) => resolve(`--then could not start: ${e.message}`));
    child.on('exit', (code, sig) => resolve(code === 0 ? null : `--then command failed (${sig ? `signal ${sig}` : `exit status ${code}`}); it runs again on the next pull`));
  });
}

/**
 * Fetches all targets (in --watch, first long-polling the allow-list and enforcement table until one
 * changes), writes the valid new ones, runs --then if anything changed (now or in an earlier round
 * whose --then failed). → {changed: string[], summary: string, errors: string[], stopped?: true}
 */
async function runRound(cfg, io, state, { wait, signal }) {
  const cached = {};
  const results = {};
  for (const t of cfg.targets) {
    try {
      cached[t.key] = cachedFor(state, t);
    } catch (e) {
      if (!(e instanceof PullError)) throw e;
      cached[t.key] = { current: null, etag: undefined };
      results[t.key] = { kind: 'error', message: `${path.basename(t.file)}: ${e.message}` };
    }
  }

  // Long poll: held by the server until a list changes or the wait ends. Whichever answers first
  // with anything but "unchanged" ends the wait for the others; they are re-asked without waiting.
  const pollable = wait ? cfg.targets.filter((t) => t.longPoll && cached[t.key].etag && !results[t.key]) : [];
  if (pollable.length) {
    const inflight = new Map();
    for (const t of pollable) {
      const ac = new AbortController();
      const p = fetchTarget(cfg, t, cached[t.key], { wait, signal: AbortSignal.any([signal, ac.signal]) }).then((r) => ({ t, r }));
      inflight.set(t.key, { ac, p });
    }
    while (inflight.size) {
      const { t, r } = await Promise.race([...inflight.values()].map((x) => x.p));
      inflight.delete(t.key);
      if (r.kind === 'aborted') break;
      results[t.key] = r;
      if (r.kind !== 'unchanged') break;
    }
    for (const { ac } of inflight.values()) ac.abort();
    await Promise.all([...inflight.values()].map((x) => x.p));
  }
  if (signal.aborted) return { stopped: true };
  for (const t of cfg.targets) {
    if (results[t.key]) continue;
    results[t.key] = await fetchTarget(cfg, t, cached[t.key], { wait: 0, signal });
    if (signal.aborted) return { stopped: true };
  }

  // Write: CA and CRL first, then the allow-list, then the enforcement table (which may refuse
  // password-only logins, so it goes after the certificates that replace them are listed).
  const order = ['ca', 'crl', 'ca-crl', 'allowlist', 'senders', 'enforcement'];
  const errors = [];
  const changed = [];
  const notes = [];
  const unchanged = [];
  for (const key of order) {
    const t = cfg.targets.find((x) => x.key === key);
    if (!t) continue;
    const r = results[key];
    const label = path.basename(t.file);
    const unit = (n) => `${n} ${t.check.unit[n === 1 ? 0 : 1]}`;
    if (r.kind === 'error') {
      errors.push(r.message);
      continue;
    }
    if (r.kind === 'new') {
      // The policy service swaps in the validated list first: once the file is there, so is the index.
      io.onWritten?.(key, r.bytes);
      try {
        writeFileAtomic(t.file, r.bytes);
      } catch (e) {
        errors.push(`${label}: cannot write ${t.file}: ${e.code ?? e.message}; kept the old file`);
        continue;
      }
      changed.push(t.file);
      notes.push(`${label} (${unit(r.entries)})`);
    } else unchanged.push(label);
    const bytes = r.kind === 'new' ? r.bytes : cached[key].current;
    if (r.etag && bytes) state.files[key] = { file: t.file, url: t.url, etag: r.etag, sha256: sha256(bytes) };
    else delete state.files[key];
  }
  for (const key of Object.keys(state.files)) if (!cfg.targets.some((t) => t.key === key)) delete state.files[key];

  state.thenPending = Boolean(cfg.then) && (state.thenPending || changed.length > 0);
  try {
    saveState(cfg.stateFile, state);
  } catch (e) {
    errors.push(e.message);
  }
  if (cfg.then && state.thenPending) {
    const problem = await runThen(cfg.then, changed, io);
    if (problem) errors.push(problem);
    else {
      state.thenPending = false;
      try {
        saveState(cfg.stateFile, state);
      } catch (e) {
        errors.push(e.message);
      }
    }
  }

  const summary = changed.length
    ? `updated ${notes.join(', ')}${unchanged.length ? `; unchanged ${unchanged.join(', ')}` : ''}`
    : errors.length
      ? `nothing updated${unchanged.length ? `; unchanged ${unchanged.join(', ')}` : ''}`
      : Object.values(results).every((r) => r.kind === 'unchanged')
        ? 'unchanged (304)'
        : 'unchanged';
  return { changed, summary, errors };
}

// ---------------------------------------------------------------------------------------------
// Policy service (Postfix SMTPD_POLICY_README) and socketmap (the senders table), from memory
//
// The index is built from the JSON allow-list (and the senders table) and replaced by a single
// assignment when a pull lands: every request is answered from one index, old or new, never a mix.

/** Bounds on what a client may send before we give up on it (Postfix's requests are ~1-2 KiB). */
const POLICY_MAX_REQUEST_BYTES = 32 * 1024;
const POLICY_MAX_ATTRIBUTES = 200;
const SOCKETMAP_MAX_BYTES = 10_000;
/** Postfix closes an idle policy connection after smtpd_policy_service_max_idle (300 s). */
const POLICY_IDLE_MS = 330_000;
const ATTRIBUTE_NAME = /^[a-z][a-z0-9_]*$/;
const HEX64 = /^[0-9A-F]{64}$/;

/** `AB:CD:…` or `abcd…` → 64 upper-case hex digits, or null. */
export function normaliseFingerprint(value) {
  if (typeof value !== 'string') return null;
  const hex = value.trim().replaceAll(':', '').toUpperCase();
  return HEX64.test(hex) ? hex : null;
}

const lowerAddress = (v) => (typeof v === 'string' ? v.trim().toLowerCase() : '');

/**
 * The in-memory index of a JSON allow-list (older servers: no owner/senders/enforced_users → owner =
 * address, senders = [address], nobody enforced). Entries not active, or past not_after, are left out.
 */
export function buildPolicyIndex(doc, { fallbackPortalUrl, now = Date.now() } = {}) {
  const certificates = new Map();
  for (const c of Array.isArray(doc?.certificates) ? doc.certificates : []) {
    const fingerprint = normaliseFingerprint(c?.fingerprint_sha256) ?? normaliseFingerprint(c?.fingerprint_sha256_hex);
    if (!fingerprint) continue;
    if (c.status !== undefined && c.status !== 'active') continue;
    const notAfter = typeof c.not_after === 'string' ? Date.parse(c.not_after) : NaN;
    if (!Number.isNaN(notAfter) && notAfter <= now) continue;
    const owner = lowerAddress(c.owner ?? c.address);
    if (!owner) continue;
    const senders = new Set((Array.isArray(c.senders) ? c.senders : [owner]).map(lowerAddress).filter(Boolean));
    senders.add(owner);
    certificates.set(fingerprint, { owner, senders, serial: typeof c.serial === 'string' ? c.serial : '', notAfter: Number.isNaN(notAfter) ? Infinity : notAfter });
  }
  const enforced = new Set((Array.isArray(doc?.enforced_users) ? doc.enforced_users : []).map(lowerAddress).filter(Boolean));
  const portalUrl = typeof doc?.portal_url === 'string' && doc.portal_url ? doc.portal_url : fallbackPortalUrl;
  return { certificates, enforced, portalUrl, senderLogins: new Map() };
}

/** `sender login1,login2` lines (smtpd_sender_login_maps) → Map sender → "login1,login2". */
export function parseSendersTable(text) {
  const map = new Map();
  for (const line of text.split('\n')) {
    if (isCommentOrBlank(line)) continue;
    const m = /^(\S+)\s+(\S+)\s*$/.exec(line);
    if (m) map.set(m[1].toLowerCase(), m[2]);
  }
  return map;
}

/**
 * The decision for one policy request (attributes as Postfix sent them). Pure.
 * → {action, reason} where reason says why, for the log.
 *
 * At any state but RCPT: DUNNO (the decision needs the recipient stage; with smtpd_delay_reject=yes
 * everything runs there, once per recipient, so a swapped list applies to the next RCPT).
 */
export function decide(index, attrs, now = Date.now()) {
  const state = (attrs.protocol_state ?? '').toUpperCase();
  if (state !== 'RCPT') return { action: 'DUNNO', reason: `protocol_state ${state || '(none)'}` };
  if (!index) return { action: '451 4.3.5 mailca allow-list not loaded yet', reason: 'no list loaded' };
  const context = (attrs.policy_context ?? '').toLowerCase();
  const mandatory = context !== 'optional';
  const enrol = `client certificate required - enrol at ${index.portalUrl}`;
  const sender = lowerAddress(attrs.sender);
  const login = lowerAddress(attrs.sasl_username);
  const presented = attrs.ccert_fingerprint ? normaliseFingerprint(attrs.ccert_fingerprint) : null;
  const listed = presented ? index.certificates.get(presented) : undefined;
  // An entry past its notAfter counts as unlisted even before the next pull removes it.
  const certificate = listed && listed.notAfter > now ? listed : undefined;

  if (certificate) {
    if (login && login !== certificate.owner) {
      return { action: `REJECT 5.7.1 <${login}>: SASL login does not match the client certificate of ${certificate.owner}`, reason: `certificate of ${certificate.owner}, login ${login}` };
    }
    if (sender === '') return { action: 'OK', reason: `certificate of ${certificate.owner}, null sender` };
    if (certificate.senders.has(sender)) return { action: 'OK', reason: `certificate of ${certificate.owner}, sender ${sender}` };
    return { action: `REJECT 5.7.1 <${attrs.sender}>: not allowed for this client certificate`, reason: `certificate of ${certificate.owner}, sender ${sender}` };
  }
  const what = attrs.ccert_fingerprint ? (presented ? 'an unlisted certificate' : 'an unusable certificate fingerprint (set smtpd_tls_fingerprint_digest = sha256)') : 'no certificate';
  if (mandatory) return { action: `REJECT 5.7.1 ${enrol}`, reason: `${what}, mandatory` };
  if (login && index.enforced.has(login)) return { action: `REJECT 5.7.1 ${enrol}`, reason: `${what}, enforced login ${login}` };
  return { action: 'DUNNO', reason: `${what}${login ? `, login ${login}` : ''}` };
}

/** Parses `host:port` / `[v6]:port` / unix path from --policy-listen. */
function parseListen(value) {
  if (value.startsWith('unix:')) {
    const p = value.slice(5);
    if (!p.startsWith('/')) throw new UsageError(`--policy-listen unix:PATH needs an absolute path, not ${JSON.stringify(p)}`);
    return { kind: 'unix', path: p };
  }
  if (value.startsWith('inet:')) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value.slice(5));
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) throw new UsageError(`--policy-listen inet:HOST:PORT, e.g. inet:127.0.0.1:10040; not ${JSON.stringify(value)}`);
    return { kind: 'inet', host: m[1] ?? m[2], port };
  }
  throw new UsageError(`--policy-listen must be inet:HOST:PORT or unix:PATH, not ${JSON.stringify(value)}`);
}

function groupId(name) {
  if (/^\d+$/.test(name)) return Number(name);
  let text = '';
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    /* no group file */
  }
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(`--policy-socket-group: no group ${JSON.stringify(name)} in /etc/group`);
}

/**
 * One connection: policy requests (name=value lines, empty line = end) or socketmap netstrings
 * (`LEN:senders KEY,`), told apart by the first byte. Many requests per connection.
 */
function serveConnection(socket, service) {
  let buffer = Buffer.alloc(0);
  let protocol = null;
  let closed = false;
  const drop = (why) => {
    if (closed) return;
    closed = true;
    service.log(`policy: ${why}; closing the connection`);
    socket.destroy();
  };
  socket.setTimeout(POLICY_IDLE_MS, () => {
    closed = true;
    socket.destroy();
  });
  socket.on('error', () => {
    closed = true;
  });

  const policyRequests = () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end < 0) {
        if (buffer.length > POLICY_MAX_REQUEST_BYTES) return drop(`a request longer than ${POLICY_MAX_REQUEST_BYTES} bytes`);
        return;
      }
      if (end + 2 > POLICY_MAX_REQUEST_BYTES) return drop(`a request longer than ${POLICY_MAX_REQUEST_BYTES} bytes`);
      const text = buffer.subarray(0, end).toString('utf8');
      buffer = buffer.subarray(end + 2);
      const attrs = {};
      const lines = text.split('\n');
      if (lines.length > POLICY_MAX_ATTRIBUTES) return drop(`a request with more than ${POLICY_MAX_ATTRIBUTES} attributes`);
      for (const raw of lines) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        const eq = line.indexOf('=');
        const name = eq > 0 ? line.slice(0, eq) : '';
        if (!ATTRIBUTE_NAME.test(name)) return drop(`malformed request line ${show(line)} (expected name=value)`);
        attrs[name] = line.slice(eq + 1);
      }
      if (attrs.request !== 'smtpd_access_policy') return drop(`malformed request: request=${show(attrs.request ?? '(missing)')}, expected smtpd_access_policy`);
      const { action, reason } = decide(service.index, attrs);
      if (action !== 'DUNNO' && action !== 'OK') service.log(`policy: ${action} (${reason}; client ${attrs.client_address ?? '?'})`);
      socket.write(`action=${action}\n\n`);
    }
  };

  const netstring = (s) => `${Buffer.byteLength(s)}:${s},`;
  const socketmapRequests = () => {
    for (;;) {
      const colon = buffer.indexOf(':');
      if (colon < 0) {
        if (buffer.length > 6) return drop('malformed socketmap request (no netstring length)');
        return;
      }
      const lenText = buffer.subarray(0, colon).toString('latin1');
      if (!/^\d{1,5}$/.test(lenText)) return drop(`malformed socketmap request (length ${show(lenText)})`);
      const len = Number(lenText);
      if (len > SOCKETMAP_MAX_BYTES) return drop(`a socketmap request longer than ${SOCKETMAP_MAX_BYTES} bytes`);
      if (buffer.length < colon + 1 + len + 1) return;
      if (buffer[colon + 1 + len] !== 0x2c) return drop('malformed socketmap request (netstring without ",")');
      const body = buffer.subarray(colon + 1, colon + 1 + len).toString('utf8');
      buffer = buffer.subarray(colon + 2 + len);
      const space = body.indexOf(' ');
      const map = space > 0 ? body.slice(0, space) : body;
      const key = space > 0 ? body.slice(space + 1) : '';
      if (map === 'certificates') {
        // Exim's ${readsocket}: the senders of a listed certificate as an Exim list, owner first.
        const fingerprint = normaliseFingerprint(key);
        const entry = fingerprint ? service.index?.certificates.get(fingerprint) : undefined;
        socket.write(netstring(entry && entry.notAfter > Date.now() ? `OK ${[entry.owner, ...[...entry.senders].filter((s) => s !== entry.owner)].join(' : ')}` : 'NOTFOUND '));
        continue;
      }
      if (map !== 'senders') {
        socket.write(netstring(`PERM no map ${map.slice(0, 40)} here (only "senders" and "certificates")`));
        continue;
      }
      const logins = service.index?.senderLogins.get(key.toLowerCase());
      socket.write(netstring(logins ? `OK ${logins}` : 'NOTFOUND '));
    }
  };

  socket.on('data', (chunk) => {
    if (closed) return;
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    if (protocol === null) protocol = /[0-9]/.test(String.fromCharCode(buffer[0])) ? 'socketmap' : 'policy';
    if (protocol === 'policy') policyRequests();
    else socketmapRequests();
  });
  socket.on('end', () => {
    if (!closed && buffer.length) service.log('policy: the client closed the connection in the middle of a request');
    socket.end();
  });
}

/** Listens as --policy-listen says; resolves once listening. */
async function startPolicyService(cfg, service) {
  const net = await import('node:net');
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, service);
  });
  const listen = cfg.policy.listen;
  if (listen.kind === 'unix') {
    try {
      if (fs.lstatSync(listen.path).isSocket()) fs.rmSync(listen.path);
    } catch {
      /* not there */
    }
  }
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    if (listen.kind === 'unix') server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  if (listen.kind === 'unix') {
    if (cfg.policy.socketGroup !== undefined) fs.chownSync(listen.path, -1, cfg.policy.socketGroup);
    fs.chmodSync(listen.path, cfg.policy.socketMode);
  }
  return {
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// main

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

/**
 * Runs the client with `argv` (without the node and script names). Resolves to the exit status;
 * in --watch only after SIGTERM/SIGINT (or `opts.signal`).
 */
export async function main(argv = process.argv.slice(2), opts = {}) {
  const io = { env: opts.env ?? process.env, stdout: opts.stdout ?? process.stdout, stderr: opts.stderr ?? process.stderr };
  const out = (line) => io.stdout.write(line + '\n');
  const err = (line) => io.stderr.write(`${PROG}: ${line}\n`);

  let cfg;
  try {
    cfg = parseCommandLine(argv, io.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`${e.message}`);
    return 2;
  }
  if (!cfg) {
    out(USAGE);
    return 0;
  }
  if (cfg.plainHttp) err(`warning: ${cfg.baseUrl} is plain http; the token crosses the network unencrypted`);

  const state = loadState(cfg.stateFile);

  let policyServer = null;
  if (cfg.policy) {
    const service = { index: null, log: err };
    const allowlist = cfg.targets.find((t) => t.key === 'allowlist');
    const senders = cfg.targets.find((t) => t.key === 'senders');
    let senderLogins = new Map();
    const loadSenders = (bytes) => {
      senderLogins = parseSendersTable(bytes.toString('utf8'));
      if (service.index) service.index = { ...service.index, senderLogins };
    };
    const loadAllowlist = (bytes, where) => {
      let doc;
      try {
        doc = JSON.parse(bytes.toString('utf8'));
      } catch (e) {
        err(`policy: ${where} is not JSON (${e.message}); answering 451 until a pull lands`);
        return;
      }
      service.index = { ...buildPolicyIndex(doc, { fallbackPortalUrl: cfg.portalUrl }), senderLogins };
    };
    if (senders) {
      const bytes = readIfExists(senders.file);
      if (bytes) loadSenders(bytes);
    }
    const existing = readIfExists(allowlist.file);
    if (existing) loadAllowlist(existing, allowlist.file);
    else err(`policy: no ${allowlist.file} yet; answering 451 until the first pull lands`);
    // A pull that got a new, valid file swaps the index at once (before writing it and before --then).
    io.onWritten = (key, bytes) => {
      if (key === 'allowlist') loadAllowlist(bytes, 'the pulled list');
      if (key === 'senders') loadSenders(bytes);
    };
    try {
      policyServer = await startPolicyService(cfg, service);
    } catch (e) {
      err(`cannot listen on ${argvValue(argv, '--policy-listen')}: ${e.code ?? e.message}`);
      return 1;
    }
    const n = service.index ? service.index.certificates.size : 0;
    err(`policy service listening on ${argvValue(argv, '--policy-listen')} (${n} ${n === 1 ? 'certificate' : 'certificates'} loaded)`);
  }

  if (!cfg.watch) {
    const never = new AbortController().signal;
    const r = await runRound(cfg, io, state, { wait: 0, signal: never });
    for (const e of r.errors) err(e);
    if (r.changed.length || !r.errors.length) out(r.summary);
    return r.errors.length ? 1 : 0;
  }

  const stop = new AbortController();
  const onSignal = (sig) => {
    if (!stop.signal.aborted) err(`${sig}: stopping`);
    stop.abort();
  };
  const signals = ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.on(s, onSignal);
  opts.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  const stamp = () => new Date().toISOString();
  try {
    let backoff = 0;
    let waitNext = 0;
    let first = true;
    while (!stop.signal.aborted) {
      const started = Date.now();
      const r = await runRound(cfg, io, state, { wait: waitNext, signal: stop.signal });
      if (r.stopped) break;
      if (r.changed.length || first) out(`${stamp()} ${r.summary}`);
      first = false;
      if (r.errors.length) {
        for (const e of r.errors) err(`${stamp()} ${e}`);
        backoff = backoff ? Math.min(backoff * 2, MAX_BACKOFF_S) : 1;
        err(`${stamp()} retrying in ${backoff}s`);
        waitNext = 0;
        await sleep(backoff * 1000, stop.signal);
        continue;
      }
      backoff = 0;
      waitNext = WAIT_SECONDS;
      // A server without long poll answers at once: then poll about once a second.
      const elapsed = Date.now() - started;
      if (!r.changed.length && elapsed < MIN_ROUND_MS) await sleep(MIN_ROUND_MS - elapsed, stop.signal);
    }
    return 0;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    if (policyServer) await policyServer.close();
  }
}

function argvValue(argv, name) {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(name + '='));
  return eq ? eq.slice(name.length + 1) : '';
}

function isMainModule() {
  if (!process.argv[1]) return false;
  try {
    return fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${PROG}: internal error: ${e?.stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
