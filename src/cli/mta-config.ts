import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { publishDir } from '../config.ts';
import { portalUrl } from '../main.ts';
import { PUBLISHED_FILES } from '../publishers/publish.ts';
import { DEFAULT_DOVECOT_PASSWORDS, DEFAULT_POLICY_SERVICE, MTA_KINDS, mtaConfigGenerator, POLICIES, renderMtaConfig, SUBMISSION_MTAS, type EximLookup, type EximSasl, type MtaKind, type PolicyNumber, type PostfixMaps, type PostfixSasl } from '../publishers/mta-config/index.ts';
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

const comment = (text: string) => text.split('\n').map((l) => (l ? `# ${l}` : '#')).join('\n');
const oneOf = (names: readonly string[]) => (names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join(''));

/** `mailca mta-config`: ready-to-paste configuration of an MTA (the formats that link a generator): for a submission MTA one of the eight policies. */
export function mtaConfigCommand(): Command {
  const list = Object.entries(POLICIES)
    .map(([n, p]) => `  ${n}. ${p.title}`)
    .join('\n');
  return new Command('mta-config')
    .description(`print the configuration of an MTA that uses mailca's published files (--mta); for ${oneOf(SUBMISSION_MTAS)}, one of the submission policies (--policy):\n${list}`)
    .requiredOption('--mta <mta>', `${oneOf(MTA_KINDS.map((k) => `${k} (${mtaConfigGenerator(k).configures})`))}`, choice('--mta', MTA_KINDS))
    .option('--policy <n>', `policy 1-8 (see above; required with --mta ${oneOf(SUBMISSION_MTAS)})`, choice('--policy', ['1', '2', '3', '4', '5', '6', '7', '8']))
    .option('--files-dir <dir>', 'where the MTA host keeps the pulled files (default: this mailca\'s publish dir)')
    .option('--hostname <name>', 'the mail server host name', os.hostname())
    .option('--tls-cert <file>', "the server's TLS certificate chain", '/etc/ssl/certs/mail-server.pem')
    .option('--tls-key <file>', "the server's TLS key", '/etc/ssl/private/mail-server.key')
    .option('--port-tls <port>', 'TLS-on-connect port', '465')
    .option('--port-submission <port>', 'STARTTLS submission port', '587')
    .option('--listen <address>', 'bind address (default: all)')
    .option('--postfix-sasl <type:path>', 'Postfix SASL server: dovecot:private/auth or cyrus:smtpd')
    .option('--postfix-maps <kind>', 'how Postfix decides on certificates and password users\' senders: policy-service (the pull client\'s, no reload) or cdb (postmap in the pull\'s --then)', choice('--postfix-maps', ['policy-service', 'cdb']), 'policy-service')
    .option('--policy-service <address>', `where the pull client's policy service listens (mailca pull --policy-listen)`, DEFAULT_POLICY_SERVICE)
    .option('--exim-lookup <kind>', "how Exim finds a certificate's senders and a password user's: lsearch (the pulled files; a revocation applies from the next connection) or policy-service (asks the pull client per RCPT: the next RCPT of an open session)", choice('--exim-lookup', ['lsearch', 'policy-service']), 'lsearch')
    .option('--exim-sasl <driver:arg>', 'Exim password check: dovecot:/run/dovecot/auth-client or lsearch:/etc/exim4/passwd')
    .option('--port-imaps <port>', 'Dovecot: IMAP over TLS port', '993')
    .option('--dovecot-passwords <file>', 'Dovecot: the passwd-file of password logins for users in grace', DEFAULT_DOVECOT_PASSWORDS)
    .action((o: Record<string, string | undefined>) => {
      const cfg = config();
      const dir = path.resolve(o.filesDir ?? publishDir(cfg));
      const mta = o.mta as MtaKind;
      const generator = mtaConfigGenerator(mta);
      if (generator.policies && o.policy === undefined) throw new CliError(`--policy is required with --mta ${mta} (1-8, see mailca mta-config --help)`);
      if (!generator.policies && o.policy !== undefined) {
        throw new CliError(`--policy is for --mta ${oneOf(SUBMISSION_MTAS)} (submission); --mta ${mta} configures ${generator.configures}`);
      }
      const file = (name: string) => path.join(dir, name);
      const rendered = renderMtaConfig({
        mta,
        policy: o.policy === undefined ? undefined : (Number(o.policy) as PolicyNumber),
        hostname: o.hostname ?? os.hostname(),
        portalUrl: portalUrl(cfg),
        tls: { certFile: o.tlsCert ?? '', keyFile: o.tlsKey ?? '' },
        ports: { tlsOnConnect: port(o.portTls ?? '465'), submission: port(o.portSubmission ?? '587'), imaps: port(o.portImaps ?? '993') },
        listenAddress: o.listen,
        postfixSasl: o.postfixSasl ? postfixSasl(o.postfixSasl) : undefined,
        eximSasl: o.eximSasl ? eximSasl(o.eximSasl) : undefined,
        eximLookup: (o.eximLookup ?? 'lsearch') as EximLookup,
        postfixMaps: (o.postfixMaps ?? 'policy-service') as PostfixMaps,
        policyService: policyService(o.policyService ?? DEFAULT_POLICY_SERVICE),
        dovecotPasswords: path.resolve(o.dovecotPasswords ?? DEFAULT_DOVECOT_PASSWORDS),
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
          dovecotAllowlist: file(PUBLISHED_FILES.dovecotAllowlist),
          dovecotEnforcement: file(PUBLISHED_FILES.dovecotEnforcement),
          caCrl: file(PUBLISHED_FILES.caCrlBundle),
        },
      });
      console.log(comment(rendered.title));
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
