import { Command } from 'commander';

interface PullModule {
  main(argv: string[]): Promise<number>;
}

/**
 * `mailca pull …`: the MTA-side pull client. The implementation is pull/mailca-pull.mjs, a single
 * dependency-free file that also runs on its own on a mail host; this only passes the arguments
 * through (its own --help included).
 */
export function pullCommand(): Command {
  return new Command('pull')
    .description('keep an MTA allow-list (and CA bundle, CRL, enforcement table) in step with a mailca server; see mailca pull --help')
    .usage('--url URL --token-file FILE --format postfix|exim|json|dovecot --out FILE [options]')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(async (_opts: unknown, cmd: Command) => {
      // A computed specifier: the .mjs has no type declarations, and tsx loads it as it is.
      const file = new URL('../../pull/mailca-pull.mjs', import.meta.url).href;
      const { main } = (await import(file)) as PullModule;
      const code = await main(cmd.args);
      // runCli maps errors to 1 and usage to 2 with a message of its own; the client has already
      // said what went wrong, so leave with its status as it is.
      if (code !== 0) process.exit(code);
    });
}
