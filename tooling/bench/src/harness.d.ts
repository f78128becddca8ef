export interface BenchRow {
  suite: string;
  name: string;
  unit: string;
  higherIsBetter: boolean;
  atoll: number;
  peer: number | null;
  peerName: string | null;
  target?: string;
  note?: string;
}
export declare function report(row: BenchRow): BenchRow & { ratio: number | null };
export declare function formatRow(row: BenchRow & { ratio: number | null }): string;
export declare function fmt(n: number): string;
export declare function opsPerSecond(
  fn: () => number | void | Promise<number | void>,
  options?: { ms?: number; warmupMs?: number },
): Promise<number>;
export declare function medianMs(
  fn: () => unknown,
  options?: { samples?: number; warmup?: number },
): Promise<number>;
export declare function compare(
  atoll: () => Promise<number>,
  peer: () => Promise<number>,
  options?: { rounds?: number; higherIsBetter?: boolean },
): Promise<{ atoll: number; peer: number }>;
