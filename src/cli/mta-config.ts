import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { publishDir } from '../config.ts';
import { portalUrl } from '../main.ts';
import { PUBLISHED_FILES } from '../publishers/publish.ts';
import { DEFAULT_POLICY_SERVICE, MTA_KINDS, POLICIES, renderMtaConfig, type EximLookup, type EximSasl, type MtaKind, type PolicyNumber, type PostfixMaps, type PostfixSasl } from '../publishers/mta-config/index.ts';
import { choice, CliError, config } from './common.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`"${v}" is not a port number`);
  return n;
}

function postfixSasl(v: string): PostfixSasl {
  const [type, p] = v.split(':', 2);
  if ((type !== 'dovecot' && type !== 'cyrus') || !p) throw new CliError('--postfix-sasl must be dovecot:SOCKET (e.g. dovecot:private/auth) or cyrus:NAME (e.g. cyrus:smtpd)');
  return { type, path: p };
}

function eximSasl(v: string): EximSasl {
  const i = v.indexOf(':');
  const driver = v.slice(0, i);
  const arg = v.slice(i + 1);
  if (driver === 'dovecot' && arg) return { driver: 'dovecot', socket: arg };
  if (driver === 'lsearch' && arg) return { driver: 'lsearch-crypteq', passwordFile: arg };
  throw new CliError('--exim-sasl must be dovecot:SOCKET or lsearch:PASSWORD_FILE');
}

function policyService(v: string): string {
  if (!/^(inet:[^:\s]+:\d{1,5}|unix:\/\S+)$/.test(v)) throw new CliError('--policy-service must be inet:HOST:PORT (e.g. inet:127.0.0.1:10040) or unix:/PATH');
  return v;
}

/** `mailca mta-config`: ready-to-paste configuration of an MTA (the formats that link a generator) for one of the eight policies. */
export function mtaConfigCommand(): Command {
  const list = Object.entries(POLICIES)
    .map(([n, p]) => `  ${n}. ${p.title}`)
    .join('\n');
  return new Command('mta-config')
    .description(`print MTA configuration for a submission policy that uses mailca's published files:\n${list}`)
    .requiredOption('--mta <mta>', MTA_KINDS.join(' or '), choice('--mta', MTA_KINDS))
    .requiredOption('--policy <n>', 'policy 1-8 (see above)', choice('--policy', ['1', '2', '3', '4', '5', '6', '7', '8']))
    .option('--files-dir <dir>', 'where the MTA host keeps the pulled files (default: this mailca\'s publish dir)')
    .option('--hostname <name>', 'the mail server host name', os.hostname())
    .option('--tls-cert <file>', "the server's TLS certificate chain", '/etc/ssl/certs/mail-server.pem')
    .option('--tls-key <file>', "the server's TLS key", '/etc/ssl/private/mail-server.key')
    .option('--port-tls <port>', 'TLS-on-connect port', '465')
    .option('--port-submission <port>', 'STARTTLS submission port', '587')
    .option('--listen <address>', 'bind address (default: all)')
    .option('--postfix-sasl <type:path>', 'Postfix SASL server: dovecot:private/auth or cyrus:smtpd')
    .option('--postfix-maps <kind>', 'how Postfix decides on certificates: policy-service (the pull client\'s, no reload) or cdb (postmap in the pull\'s --then)', choice('--postfix-maps', ['policy-service', 'cdb']), 'policy-service')
    .option('--policy-service <address>', `where the pull client's policy service listens (mailca pull --policy-listen)`, DEFAULT_POLICY_SERVICE)
    .option('--exim-lookup <kind>', "how Exim finds a certificate's senders: lsearch (the pulled file; a revocation applies from the next connection) or policy-service (asks the pull client per RCPT: the next RCPT of an open session)", choice('--exim-lookup', ['lsearch', 'policy-service']), 'lsearch')
    .option('--exim-sasl <driver:arg>', 'Exim password check: dovecot:/run/dovecot/auth-client or lsearch:/etc/exim4/passwd')
    .action((o: Record<string, string | undefined>) => {
      const cfg = config();
      const dir = path.resolve(o.filesDir ?? publishDir(cfg));
      const file = (name: string) => path.join(dir, name);
      const rendered = renderMtaConfig({
        mta: o.mta as MtaKind,
        policy: Number(o.policy) as PolicyNumber,
        hostname: o.hostname ?? os.hostname(),
        portalUrl: portalUrl(cfg),
        tls: { certFile: o.tlsCert ?? '', keyFile: o.tlsKey ?? '' },
        ports: { tlsOnConnect: port(o.portTls ?? '465'), submission: port(o.portSubmission ?? '587') },
        listenAddress: o.listen,
        postfixSasl: o.postfixSasl ? postfixSasl(o.postfixSasl) : undefined,
        eximSasl: o.eximSasl ? eximSasl(o.eximSasl) : undefined,
        eximLookup: (o.eximLookup ?? 'lsearch') as EximLookup,
        postfixMaps: (o.postfixMaps ?? 'policy-service') as PostfixMaps,
        policyService: policyService(o.policyService ?? DEFAULT_POLICY_SERVICE),
        paths: {
          postfixAllowlist: file(PUBLISHED_FILES.postfixAllowlist),
          eximAllowlist: file(PUBLISHED_FILES.eximAllowlist),
          caBundle: file(PUBLISHED_FILES.caBundle),
          crlPem: file(PUBLISHED_FILES.crlPem),
          postfixEnforcement: file(PUBLISHED_FILES.postfixEnforcement),
          eximEnforcement: file(PUBLISHED_FILES.eximEnforcement),
          jsonAllowlist: file(PUBLISHED_FILES.jsonAllowlist),
          postfixSenders: file(PUBLISHED_FILES.postfixSenderLogins),
          eximSenders: file(PUBLISHED_FILES.eximSenderLogins),
        },
      });
      const comment = (text: string) => text.split('\n').map((l) => (l ? `# ${l}` : '#')).join('\n');
      const policy = POLICIES[Number(o.policy) as PolicyNumber];
      console.log(comment(`mailca policy ${o.policy}: ${policy.title}\nWithout a certificate: ${policy.withoutCertificate}`));
      if (o.filesDir === undefined) {
        // The data dir is 0700: only mailca's own user can read publish/ there.
        console.log(
          comment(
            `\nThe paths below are this mailca's ${dir}, inside its data dir (mode 0700): an MTA running as another user cannot\n` +
              'read them. Run `mailca pull` on the MTA host into a directory the MTA can read (the pulled files are 0644) and\n' +
              'give that directory as --files-dir.',
          ),
        );
      }
      for (const part of rendered.parts) console.log(`\n${part.file === undefined ? '' : `# ---- ${part.file} ----\n`}${part.text.trimEnd()}`);
      console.log(`\n${comment(rendered.notes.trimEnd())}`);
    });
}
