/** One figure of the bench: a row of the printed table. */
export interface BenchRow {
  /** The section it belongs to (`sim`, `store`, ...). */
  section: string;
  name: string;
  value: number;
  unit: string;
  /** What was measured, and how, in a few words. */
  note?: string;
}

/**
 * A part of `npm run bench`: a module that measures something and returns its rows. Add one to
 * `sections` in `bench/run.ts`; `npm run bench -- NAME` runs only the sections named.
 */
export interface BenchSection {
  /** `area:what` (`sim:throughput`); `npm run bench -- area` runs every section of the area. */
  name: string;
  run(): Promise<BenchRow[]>;
}

/** Rounds a figure for the table. */
export function round(value: number, digits = 0): number {
  return Number(value.toFixed(digits));
}
