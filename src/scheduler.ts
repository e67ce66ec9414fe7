import type { Logger } from 'pino';
import { HOUR_MS } from './clock.ts';

const MAX_SLEEP_MS = HOUR_MS;
const RETRY_MS = 60_000;

/**
 * Runs `tick` now, then again at the instant it returns (the next boundary derived from the
 * database: an expiry, an overlap end, a CRL refresh, a scheduled enforcement), and at least hourly.
 * Nothing is kept in memory between ticks, so a restart loses nothing.
 */
export interface Scheduler {
  /** Runs the next tick no later than `at` (sooner than planned if a change moved a boundary closer). */
  wake(at: Date): void;
  /** Stops planning ticks; resolves when a tick under way has finished (so its queries are done). */
  stop(): Promise<void>;
}

export function startScheduler(tick: () => Promise<Date | undefined>, log: Logger): Scheduler {
  let timer: NodeJS.Timeout | undefined;
  let plannedAt = Infinity;
  let running = false;
  let stopped = false;
  let current: Promise<void> | undefined;

  const schedule = (ms: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    const delay = Math.max(250, Math.min(ms, MAX_SLEEP_MS));
    plannedAt = Date.now() + delay;
    timer = setTimeout(run, delay);
  };

  function run(): void {
    current = runTick().finally(() => (current = undefined));
  }

  async function runTick(): Promise<void> {
    timer = undefined;
    plannedAt = Infinity;
    running = true;
    try {
      const due = await tick();
      // +1 ms: a certificate with notAfter = T is inactive at T, so act just after it.
      schedule(due ? due.getTime() - Date.now() + 1 : MAX_SLEEP_MS);
    } catch (e) {
      log.error({ err: e }, 'scheduled run failed; retrying in a minute');
      schedule(RETRY_MS);
    } finally {
      running = false;
    }
  }

  run();
  return {
    wake(at) {
      // While a tick runs it will plan the next one itself, from fresh state.
      if (stopped || running || at.getTime() >= plannedAt) return;
      schedule(at.getTime() - Date.now() + 1);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
