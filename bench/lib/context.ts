import type { Row } from './report.ts';

export interface BenchContext {
  quick: boolean;
  /** A progress line on stderr (the table goes to stdout). */
  progress(message: string): void;
}

/** One measurement: a module under bench/ that returns its rows (n/a rows for what failed). */
export interface Measurement {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<Row[]>;
}
