import { Command } from 'commander';
import { syncDirectory } from '../enrolment/directory-sync.ts';
import { CliError, cliActor, withMailca } from './common.ts';

/** `mailca directory …`: the LDAP directory users sign in with. */
export function directoryCommand(): Command {
  const directory = new Command('directory').description('the LDAP directory (MAILCA_SIGN_IN=…,ldap)');
  directory
    .command('sync')
    .description('disable (and revoke the certificates of) directory users the directory no longer has; sync the others\' admin flag and aliases')
    .option('--json', 'JSON output', false)
    .action(async (o: { json: boolean }) => {
      await withMailca(async (m) => {
        if (!m.directory) throw new CliError('no directory is configured: MAILCA_SIGN_IN does not name ldap');
        const r = await syncDirectory(m.ctx, cliActor(), m.directory);
        if (o.json) {
          console.log(JSON.stringify({ checked: r.checked, disabled: r.disabled, unusable: r.unusable }, null, 2));
          return;
        }
        console.log(`checked ${r.checked} directory user(s); disabled ${r.disabled.length}`);
        for (const u of r.unusable) console.error(`left ${u.email} as it is: ${u.reason}`);
        for (const d of r.disabled) console.log(`disabled ${d.email}; revoked ${d.revoked.length} certificate(s)${d.revoked.length ? ': ' + d.revoked.join(', ') : ''}`);
      });
    });
  return directory;
}
