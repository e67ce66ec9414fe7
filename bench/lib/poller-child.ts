// Bench-only: the /healthz poller in a process of its own, so its timings are the server's and not
// those of a load generator sharing its event loop (2,000 long polls receiving their lists, say).
// Arguments: base URL, path, interval (ms). Sends its latencies over IPC when told to stop.

import { startPoller } from './http.ts';

const [baseUrl, path, interval] = process.argv.slice(2) as [string, string, string];
const poller = startPoller(baseUrl, path, Number(interval));
process.on('message', (m: unknown) => {
  if ((m as { type?: string }).type !== 'stop') return;
  void poller.stop().then((r) => process.send?.({ type: 'result', ...r }, () => process.exit(0)));
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
