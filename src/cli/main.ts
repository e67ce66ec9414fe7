import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { addAlias, listAliases, removeAlias } from '../enrolment/aliases.ts';
import { enrol } from '../enrolment/enrol.ts';
import { readiness, setEnforcementPolicy, setEveryoneEnforcement, setUserEnforcement } from '../enrolment/enforcement.ts';
import { normalizeEmail } from '../enrolment/identity.ts';
import { generatePassword } from '../enrolment/passwords.ts';
import { revoke } from '../enrolment/revoke.ts';
import { createToken, revokeToken } from '../enrolment/tokens.ts';
import { importUsers } from '../enrolment/user-import.ts';
import { listUsers } from '../enrolment/user-list.ts';
import { addUser, disableUser, enableUser, findUser, resetPassword, unlockUser } from '../enrolment/users.ts';
import { MailcaError } from '../errors.ts';
import { ACCEPTED_REVOCATION_REASONS } from '../issuance/revocation-reasons.ts';
import { openStore, serve } from '../main.ts';
import { caCommand } from './ca.ts';
import { choice, CliError, cliActor, config, describeCaKey, isNewDatabase, keyStorageFlag, PKCS11_FLAG_HELP, readStdin, sayCreatedDatabase, withMailca } from './common.ts';
import { directoryCommand } from './directory.ts';
import { mtaConfigCommand } from './mta-config.ts';
import { pullCommand } from './pull.ts';
import { formatFingerprintColons } from '../issuance/encoding.ts';
import { certificateStatus, type CertificateStatus } from '../store/index.ts';

export function buildProgram(): Command {
  const program = new Command('mailca')
    .description('a small CA for mail-client (SMTP submission) certificates')
    .showHelpAfterError(false)
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

  program
    .command('serve')
    .description('migrate the database, create the CA on first run, publish, and serve HTTP')
    .action(async () => {
      const running = await serve(config());
      const stop = () => void running.stop().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('init')
    .description('create the CA (once; a second run says it exists)')
    .option('--name <name>', 'CA subject common name (default from MAILCA_CA_NAME)')
    .addOption(new Option('--key-alg <alg>', 'CA key algorithm').choices(['P-256', 'P-384', 'RSA-3072']))
    .option('--pkcs11', PKCS11_FLAG_HELP, false)
    .action(async (o: { name?: string; keyAlg?: 'P-256' | 'P-384' | 'RSA-3072'; pkcs11: boolean }) => {
      const cfg = config({ ...(o.name ? { caName: o.name } : {}), ...(o.keyAlg ? { caKeyAlgorithm: o.keyAlg } : {}) });
      if (isNewDatabase(cfg)) sayCreatedDatabase(cfg);
      const store = await openStore(cfg);
      const existing = await store.cas.findActive().finally(() => store.close());
      if (existing) {
        console.log(`a CA already exists: "${existing.name}" (${existing.keyAlgorithm}), SHA-256 ${formatFingerprintColons(existing.fingerprintSha256)}; nothing to do`);
        return;
      }
      await withMailca(
        async (m) => {
          await m.publisher.publish();
          const ca = await m.store.cas.findActive();
          if (ca) console.log(`created CA "${ca.name}" (${ca.keyAlgorithm}${describeCaKey(ca)}), SHA-256 ${formatFingerprintColons(ca.fingerprintSha256)}`);
        },
        { createCaIfMissing: true, newCaKey: keyStorageFlag(o.pkcs11), cfg },
      );
    });

  const user = program.command('user').description('manage users');
  user
    .command('add')
    .description('add a user; the password is read from stdin, or generated and printed once')
    .argument('<email>', 'the address certificates will be issued for')
    .option('--name <name>', 'display name')
    .option('--admin', 'may use the admin pages and API', false)
    .action(async (emailArg: string, o: { name?: string; admin: boolean }) => {
      const email = normalizeEmail(emailArg);
      let password = (await readStdin()).replace(/\r?\n$/, '');
      const generated = password === '';
      if (generated) password = generatePassword();
      await withMailca(async (m) => {
        const u = await addUser(m.ctx, cliActor(), { email, displayName: o.name, isAdmin: o.admin, password });
        console.log(`added ${u.email}${u.isAdmin ? ' (admin)' : ''}`);
        if (generated) console.log(`password: ${password}`);
      });
    });
  user
    .command('disable')
    .description('disable a user and revoke their certificates')
    .argument('<email>')
    .action(async (email: string) => {
      await withMailca(async (m) => {
        const { user: u, revoked } = await disableUser(m.ctx, cliActor(), email);
        console.log(`disabled ${u.email}; revoked ${revoked.length} certificate(s)${revoked.length ? ': ' + revoked.join(', ') : ''}`);
      });
    });

  user
    .command('import')
    .description('add users from a CSV file (header email,name,admin[,aliases]; aliases separated by spaces or semicolons), all or none')
    .argument('<file>', 'the CSV file')
    .action(async (file: string) => {
      let csv: string;
      try {
        csv = readFileSync(file, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      await withMailca(async (m) => {
        const { added } = await importUsers(m.ctx, cliActor(), csv);
        console.log(`added ${added} user(s)`);
      });
    });
  user
    .command('list')
    .description('list users: address, name, admin, disabled, enforcement, active certificates, sender aliases')
    .option('--json', 'JSON output', false)
    .action(async (o: { json: boolean }) => {
      await withMailca(async (m) => {
        const rows = [];
        for (let offset = 0; ; offset += 500) {
          const page = await listUsers(m.ctx, { limit: 500, offset });
          rows.push(...page.items);
          if (page.items.length < 500) break;
        }
        if (o.json) {
          console.log(JSON.stringify(rows.map((s) => ({
            email: s.user.email,
            name: s.user.displayName,
            admin: s.user.isAdmin,
            disabled: s.user.disabledAt !== null,
            enforcement: s.enforcement?.state ?? null,
            active_certificates: s.activeCertificates,
            aliases: s.aliases,
          })), null, 2));
          return;
        }
        for (const s of rows) {
          const state = s.user.disabledAt ? 'disabled' : (s.enforcement?.state ?? '');
          console.log([s.user.email, s.user.isAdmin ? 'admin' : 'user ', state.padEnd(8), `${s.activeCertificates} cert(s)`, s.aliases.length ? `aliases ${s.aliases.join(' ')}` : '', s.user.displayName ?? ''].join('  ').trimEnd());
        }
        if (rows.length === 0) console.error('no users');
      });
    });
  user
    .command('password')
    .description("set a user's password, read from stdin (one line), or generate one and print it once; their sessions end")
    .argument('<email>')
    .action(async (email: string) => {
      const password = (await readStdin()).replace(/\r?\n$/, '');
      await withMailca(async (m) => {
        const r = await resetPassword(m.ctx, cliActor(), { email, password });
        console.log(`set the password of ${r.user.email}; ended ${r.endedSessions} session(s)`);
        if (r.generatedPassword) console.log(`password: ${r.generatedPassword}`);
      });
    });
  user
    .command('enable')
    .description('re-enable a disabled user (their revoked certificates stay revoked)')
    .argument('<email>')
    .action(async (email: string) => {
      await withMailca(async (m) => {
        const r = await enableUser(m.ctx, cliActor(), email);
        console.log(r.changed ? `enabled ${r.user.email}` : `${r.user.email} is already enabled; nothing to do`);
      });
    });
  user
    .command('unlock')
    .description("clear a user's sign-in lockout (failed attempts so far no longer count)")
    .argument('<email>')
    .action(async (email: string) => {
      await withMailca(async (m) => {
        const u = await unlockUser(m.ctx, cliActor(), email);
        console.log(`unlocked sign-in for ${u.email}`);
      });
    });

  const alias = user.command('alias').description("manage a user's sender aliases (addresses their certificates may also send as)");
  alias
    .command('add')
    .description('let EMAIL\'s certificates send as ALIAS too')
    .argument('<email>', 'the user')
    .argument('<alias>', 'the extra sender address (not a user, not another user\'s alias)')
    .action(async (email: string, aliasArg: string) => {
      await withMailca(async (m) => {
        const a = await addAlias(m.ctx, cliActor(), { email, alias: aliasArg });
        console.log(`${a.email} may now send as ${a.alias}`);
      });
    });
  alias
    .command('remove')
    .description('remove a sender alias')
    .argument('<email>', 'the user')
    .argument('<alias>', 'the alias to remove')
    .action(async (email: string, aliasArg: string) => {
      await withMailca(async (m) => {
        const a = await removeAlias(m.ctx, cliActor(), { email, alias: aliasArg });
        console.log(`removed sender alias ${a.alias} of ${a.email}`);
      });
    });
  alias
    .command('list')
    .description("list a user's sender aliases, one per line")
    .argument('<email>', 'the user')
    .option('--json', 'JSON output', false)
    .action(async (email: string, o: { json: boolean }) => {
      await withMailca(async (m) => {
        const l = await listAliases(m.ctx, email);
        if (o.json) console.log(JSON.stringify({ email: l.email, aliases: l.aliases }, null, 2));
        else for (const a of l.aliases) console.log(a);
        if (!o.json && l.aliases.length === 0) console.error(`${l.email} has no sender aliases`);
      });
    });

  const token = program.command('token').description('manage API bearer tokens');
  token
    .command('create')
    .description('create a bearer token; it is printed once and only its hash is stored')
    .requiredOption('--role <role>', 'admin (everything) or mta (read allow-lists)', choice('--role', ['admin', 'mta']))
    .requiredOption('--name <name>', 'what the token is for, e.g. mx1')
    .action(async (o: { role: string; name: string }) => {
      await withMailca(async (m) => {
        const { token: secret } = await createToken(m.ctx, cliActor(), { role: o.role, name: o.name });
        console.log(secret);
      });
    });

  token
    .command('list')
    .description('list API tokens (names, roles, state; never the secrets)')
    .action(async () => {
      await withMailca(async (m) => {
        for (const t of await m.store.tokens.list()) {
          console.log([t.id, t.role.padEnd(5), t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : 'active', t.createdAt.toISOString(), t.name].join('  '));
        }
      });
    });
  token
    .command('revoke')
    .description('revoke a token by name or id; requests with it get 401 from then on')
    .argument('<name-or-id>')
    .action(async (nameOrId: string) => {
      await withMailca(async (m) => {
        const n = await revokeToken(m.ctx, cliActor(), nameOrId);
        console.log(`revoked ${n} token(s) named ${nameOrId}`);
      });
    });

  program
    .command('issue')
    .description("issue a certificate for a user's address from a CSR file (PEM or DER)")
    .requiredOption('--email <email>', 'the user (must exist)')
    .requiredOption('--csr <file>', 'CSR file')
    .option('--device <label>', 'device label')
    .option('--out <file>', 'write the certificate PEM here instead of stdout')
    .action(async (o: { email: string; csr: string; device?: string; out?: string }) => {
      let csr: Buffer;
      try {
        csr = readFileSync(o.csr);
      } catch (e) {
        throw new CliError(`cannot read ${o.csr}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      await withMailca(async (m) => {
        const u = await findUser(m.ctx, o.email);
        const { record, chainPem } = await enrol(m.ctx, cliActor(), { user: u, csr, deviceLabel: o.device });
        const pem = record.certificatePem + chainPem.join('');
        if (o.out) {
          const { writeFileAtomic } = await import('../publishers/published-file.ts');
          await writeFileAtomic(o.out, pem);
        } else process.stdout.write(pem);
        console.error(`issued serial ${record.serial} for ${record.email}, SHA-256 ${formatFingerprintColons(record.fingerprintSha256)}, expires ${record.notAfter.toISOString()}`);
      });
    });

  program
    .command('revoke')
    .description('revoke a certificate')
    .argument('<serial>', 'serial (hex)')
    .requiredOption('--reason <reason>', `RFC 5280 reason: ${ACCEPTED_REVOCATION_REASONS.join(', ')}`, choice('--reason', ACCEPTED_REVOCATION_REASONS))
    .action(async (serial: string, o: { reason: string }) => {
      await withMailca(async (m) => {
        const { certificate: c, alsoRevoked } = await revoke(m.ctx, cliActor(), { serial, reason: o.reason });
        console.log(`revoked ${c.serial} (${c.email}), reason ${o.reason}`);
        // keyCompromise takes every certificate with the same key along.
        if (alsoRevoked.length) console.log(`also revoked ${alsoRevoked.length} other certificate(s) with the same key: ${alsoRevoked.join(', ')}`);
      });
    });

  program
    .command('list')
    .description('list certificates')
    .option('--email <email>', 'only this address')
    .option('--status <status>', 'active, revoked, expired or not_yet_valid', choice('--status', ['active', 'revoked', 'expired', 'not_yet_valid']))
    .option('--json', 'JSON output', false)
    .action(async (o: { email?: string; status?: CertificateStatus; json: boolean }) => {
      await withMailca(async (m) => {
        const now = m.ctx.clock.now();
        const email = o.email ? normalizeEmail(o.email) : undefined;
        const rows = [];
        for (let offset = 0; ; offset += 500) {
          const page = await m.store.certificates.list({ email, status: o.status, now, limit: 500, offset });
          rows.push(...page.items);
          if (page.items.length < 500) break;
        }
        if (o.json) {
          console.log(JSON.stringify(rows.map((c) => ({ serial: c.serial, email: c.email, status: certificateStatus(c, now), fingerprint_sha256: formatFingerprintColons(c.fingerprintSha256), not_after: c.notAfter.toISOString(), device_label: c.deviceLabel })), null, 2));
          return;
        }
        for (const c of rows) {
          console.log([c.serial, certificateStatus(c, now).padEnd(8), c.notAfter.toISOString(), c.email, c.deviceLabel ?? ''].join('  ').trimEnd());
        }
        if (rows.length === 0) console.error('no certificates');
      });
    });

  program
    .command('publish')
    .description('rewrite the allow-lists, CA bundle and CRL in <data dir>/publish now')
    .action(async () => {
      await withMailca(async (m) => {
        const r = await m.publisher.publish();
        console.log(`published ${r.activeCertificates} active certificate(s); CRL number ${r.crls.map((c) => c.crlNumber).join(', ')}`);
      });
    });

  program
    .command('enforce')
    .description("set a user's (or everyone's) enforcement: enforced = must present a certificate, grace = password still accepted, default = follow the schedule")
    .argument('[email]', 'the user (or --all)')
    .option('--all', 'every enabled user', false)
    .requiredOption('--state <state>', 'enforced, grace or default', choice('--state', ['enforced', 'grace', 'default']))
    .option('--at <date>', 'with --state default: enforce this user from this ISO date-time')
    .action(async (email: string | undefined, o: { all: boolean; state: string; at?: string }) => {
      if (o.all === Boolean(email)) throw new CliError('give either an EMAIL or --all');
      await withMailca(async (m) => {
        if (o.all) {
          const n = await setEveryoneEnforcement(m.ctx, cliActor(), o.state);
          console.log(`set ${n} user(s) to ${o.state}`);
          return;
        }
        const d = await setUserEnforcement(m.ctx, cliActor(), { email, state: o.state, enforceAt: o.at });
        console.log(`${d.email}: ${d.state}${d.enforcedFrom && d.state === 'grace' ? ` (enforced from ${d.enforcedFrom.toISOString()})` : ''}`);
      });
    });

  program
    .command('enforce-policy')
    .description('schedule enforcement: N days after each user\'s first enrolment, and/or a global deadline')
    .option('--after-first-enrolment <days>', 'days after first enrolment (empty to clear)')
    .option('--deadline <date>', 'ISO date-time from which everyone is enforced (empty to clear)')
    .action(async (o: { afterFirstEnrolment?: string; deadline?: string }) => {
      await withMailca(async (m) => {
        const current = await m.store.enforcement.policy();
        const p = await setEnforcementPolicy(m.ctx, cliActor(), {
          afterFirstEnrolmentDays: o.afterFirstEnrolment ?? current.afterFirstEnrolmentDays,
          deadline: o.deadline ?? current.deadline?.toISOString() ?? null,
        });
        console.log(`after first enrolment: ${p.afterFirstEnrolmentDays ?? 'off'} day(s); deadline: ${p.deadline?.toISOString() ?? 'none'}`);
      });
    });

  program
    .command('readiness')
    .description('users total / enrolled / enforced, and who is left')
    .option('--json', 'JSON output', false)
    .action(async (o: { json: boolean }) => {
      await withMailca(async (m) => {
        const r = await readiness(m.ctx);
        if (o.json) {
          console.log(JSON.stringify(r, null, 2));
          return;
        }
        const pct = r.usersTotal ? ((100 * r.enrolled) / r.usersTotal).toFixed(1) : '100.0';
        console.log(`users ${r.usersTotal}, enrolled ${r.enrolled} (${pct}%), enforced ${r.enforced}, grace ${r.grace}`);
        if (r.notEnrolled.length) console.log(`not enrolled: ${r.notEnrolled.join(', ')}`);
        if (r.enforcedWithoutCertificate.length) console.log(`enforced without a certificate (cannot send): ${r.enforcedWithoutCertificate.join(', ')}`);
        if (r.readyToEnforce.length) console.log(`enrolled, still in grace (ready to enforce): ${r.readyToEnforce.join(', ')}`);
      });
    });

  program.addCommand(pullCommand());
  program.addCommand(caCommand());
  program.addCommand(mtaConfigCommand());
  program.addCommand(directoryCommand());

  const auditCmd = program.command('audit').description('the audit log');
  auditCmd
    .command('verify')
    .description('check the hash chain of the audit log; exits 1 if a row was changed or deleted')
    .action(async () => {
      await withMailca(async (m) => {
        const v = await m.store.audit.verify();
        if (!v.ok) throw new CliError(`audit log BROKEN after ${v.events} event(s): ${v.problem}`);
        console.log(`audit log intact: ${v.events} event(s)`);
      });
    });

  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof MailcaError || e instanceof CliError) {
      console.error(`mailca: ${e.message.split('\n').join('\n  ')}`);
      return 1;
    }
    console.error(`mailca: ${(e as Error).message}`);
    return 1;
  }
}
