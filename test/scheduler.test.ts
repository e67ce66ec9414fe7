import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startScheduler } from '../src/scheduler.ts';

describe('scheduler', () => {
  it('runs at once, sleeps until the boundary the tick returns, and wakes earlier when told', async () => {
    const ticks: number[] = [];
    const t0 = Date.now();
    const s = startScheduler(async () => {
      ticks.push(Date.now() - t0);
      return new Date(Date.now() + 60_000);
    }, pino({ level: 'silent' }));
    await new Promise((r) => setTimeout(r, 100));
    expect(ticks).toHaveLength(1);
    s.wake(new Date(Date.now() + 120_000)); // later than planned: ignored
    s.wake(new Date(Date.now() + 300));
    // Generous: only the order of events matters, not the machine's speed.
    for (let i = 0; i < 50 && ticks.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    s.stop();
    expect(ticks).toHaveLength(2);
    expect(ticks[1]!).toBeGreaterThanOrEqual(350);
  });

  it('retries after a failing tick', async () => {
    let calls = 0;
    const s = startScheduler(async () => {
      calls++;
      throw new Error('disk full');
    }, pino({ level: 'silent' }));
    await new Promise((r) => setTimeout(r, 50));
    s.wake(new Date(Date.now() + 100));
    for (let i = 0; i < 50 && calls < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300)); // and no third call right after
    s.stop();
    expect(calls).toBe(2);
  });
});
