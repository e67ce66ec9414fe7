import { performance } from 'node:perf_hooks';

/**
 * Cuts a long loop into slices of a few milliseconds, so timers, I/O and other requests run in
 * between (a 100k-entry CRL or a million-line list is built without stalling the event loop).
 * Call `due()` once per item: it is true when the current slice is used up, then `await yield()`.
 */
export class TimeSlicer {
  #sliceStart = performance.now();
  #count = 0;

  constructor(private readonly sliceMs = 4) {}

  /** True about every `sliceMs` of work (the clock is read every 256 calls). */
  due(): boolean {
    if ((++this.#count & 255) !== 0) return false;
    return performance.now() - this.#sliceStart >= this.sliceMs;
  }

  /** Lets the event loop run (one turn, after pending I/O), then starts a new slice. */
  yield(): Promise<void> {
    return new Promise((resolve) =>
      setImmediate(() => {
        this.#sliceStart = performance.now();
        resolve();
      }),
    );
  }

  /** `await slicer.step()` per item: yields only when the slice is used up. */
  async step(): Promise<void> {
    if (this.due()) await this.yield();
  }
}
