import type { Logger } from 'pino';
import { HOUR_MS } from './clock.ts';

const MAX_SLEEP_MS = HOUR_MS;
const RETRY_MS = 60_000;

/**
 * Runs `tick` now, then again at the instant it returns (the next boundary derived from the
 * database: an expiry, an overlap end, a CRL refresh, a scheduled enforcement), and at least hourly.
 * Nothing is kept in memory between ticks, so a restart loses nothing.
 */
export function startScheduler(tick: () => Promise<Date | undefined>, log: Logger): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(run, Math.max(250, Math.min(ms, MAX_SLEEP_MS)));
  };

  async function run(): Promise<void> {
    try {
      const due = await tick();
      // +1 ms: a certificate with notAfter = T is inactive at T, so act just after it.
      schedule(due ? due.getTime() - Date.now() + 1 : MAX_SLEEP_MS);
    } catch (e) {
      log.error({ err: e }, 'scheduled run failed; retrying in a minute');
      schedule(RETRY_MS);
    }
  }

  void run();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
