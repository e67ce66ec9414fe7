import type { Logger } from 'pino';
import { HOUR_MS } from '../clock.ts';
import type { Publisher } from './publish.ts';

const MAX_SLEEP_MS = HOUR_MS;
const RETRY_MS = 60_000;

/**
 * Re-publishes at each boundary derived from the database (a certificate expiring or becoming
 * valid, a CRL due for re-signing), and at least hourly. Nothing is kept in memory between runs,
 * so a restart loses nothing.
 */
export function startPublishScheduler(publisher: Publisher, log: Logger): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(run, Math.max(250, Math.min(ms, MAX_SLEEP_MS)));
  };

  async function run(): Promise<void> {
    try {
      await publisher.publish();
      const due = await publisher.nextDue();
      // +1 ms: a certificate with notAfter = T is inactive at T, so publish just after it.
      schedule(due ? due.getTime() - Date.now() + 1 : MAX_SLEEP_MS);
    } catch (e) {
      log.error({ err: e }, 'scheduled publish failed; retrying in a minute');
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
