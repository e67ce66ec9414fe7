// Bench-only: `mailca serve` in its own process (so the load generator and the latency probes do
// not share its event loop). Configuration arrives as JSON in MAILCA_BENCH_CONFIG; the URL goes
// back over IPC.

import { pino } from 'pino';
import { loadConfig, type ConfigInput } from '../../src/config.ts';
import { serve } from '../../src/main.ts';

const send = (m: object) => process.send?.(m);

try {
  const input = JSON.parse(process.env.MAILCA_BENCH_CONFIG ?? '{}') as Partial<ConfigInput>;
  const server = await serve(loadConfig({}, input), { log: pino({ level: 'silent' }) });
  process.on('message', (m: unknown) => {
    if ((m as { type?: string }).type !== 'stop') return;
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  send({ type: 'ready', url: server.url });
} catch (e) {
  send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
