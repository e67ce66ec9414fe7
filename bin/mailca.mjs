#!/usr/bin/env node
// The `mailca` command. Sources are TypeScript, loaded through tsx.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
