// `npm run bench [-- --quick] [--json FILE] [--only id,id]`: measures what users see, each figure
// next to its peer, in one run; prints one table and writes it as JSON (default bench/results.json).

import os from 'node:os';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BenchContext, Measurement } from './lib/context.ts';
import { errorText, notAvailable, renderTable, type Row } from './lib/report.ts';
import { issuance } from './issuance.ts';
import { scale } from './scale.ts';
import { propagation } from './propagation.ts';
import { crl } from './crl.ts';
import { healthz } from './healthz.ts';
import { allowlist } from './allowlist.ts';
import { longpoll } from './longpoll.ts';
import { mta } from './mta.ts';

const MEASUREMENTS: Measurement[] = [issuance, scale, propagation, crl, healthz, allowlist, longpoll, mta];

function parseArgs(argv: string[]): { quick: boolean; json: string; only?: Set<string> } {
  let quick = false;
  let json = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.json');
  let only: Set<string> | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--json') json = path.resolve(argv[++i] ?? json);
    else if (a.startsWith('--json=')) json = path.resolve(a.slice('--json='.length));
    else if (a === '--only') only = new Set((argv[++i] ?? '').split(','));
    else if (a.startsWith('--only=')) only = new Set(a.slice('--only='.length).split(','));
    else if (a === '--help' || a === '-h') {
      console.log(`usage: npm run bench -- [--quick] [--json FILE] [--only ${MEASUREMENTS.map((m) => m.id).join(',')}]`);
      process.exit(0);
    } else {
      console.error(`unknown argument ${a} (try --help)`);
      process.exit(2);
    }
  }
  return { quick, json, only };
}

const args = parseArgs(process.argv.slice(2));
const started = performance.now();
const cpus = os.cpus();
const machine = {
  cores: cpus.length,
  cpu: cpus[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  os: `${os.type()} ${os.release()}`,
};
console.log(`mailca benchmark${args.quick ? ' (--quick: small sizes, a smoke test; figures are not comparable)' : ''}`);
console.log(`machine: ${machine.cores} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.os}`);
console.log(`started: ${new Date().toISOString()}\n`);

const ctx: BenchContext = {
  quick: args.quick,
  progress: (m) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}\n`),
};

const rows: Row[] = [];
for (const m of MEASUREMENTS) {
  if (args.only && !args.only.has(m.id)) continue;
  ctx.progress(`${m.title}…`);
  const t0 = performance.now();
  try {
    rows.push(...(await m.run(ctx)));
  } catch (e) {
    rows.push(notAvailable(m.id, m.title, errorText(e)));
  }
  ctx.progress(`${m.title}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const totalSeconds = (performance.now() - started) / 1000;
console.log(renderTable(rows));
console.log(`\ntotal ${totalSeconds.toFixed(0)} s`);
writeFileSync(args.json, JSON.stringify({ quick: args.quick, machine, startedAt: new Date(Date.now() - totalSeconds * 1000).toISOString(), totalSeconds, rows }, null, 2) + '\n');
console.log(`written: ${args.json}`);
