// Lateness of a periodic task's releases: exact count, max and mean over the whole run, and
// percentiles over the most recent samples (a bounded reservoir, so memory stays flat).

export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  /** Counts per bucket, upper bounds in µs: <=10, <=50, <=100, <=250, <=500, <=1000, >1000. */
  histogram: Record<string, number>;
}

const BUCKETS = [10, 50, 100, 250, 500, 1000];

export class LatencyRecorder {
  private readonly recent: Float64Array;
  private next = 0;
  private filled = 0;
  private count = 0;
  private sum = 0;
  private max = 0;
  private readonly buckets = new Array<number>(BUCKETS.length + 1).fill(0);

  constructor(capacity = 16384) {
    this.recent = new Float64Array(capacity);
  }

  record(us: number): void {
    const v = us < 0 ? 0 : us;
    this.recent[this.next] = v;
    this.next = (this.next + 1) % this.recent.length;
    if (this.filled < this.recent.length) this.filled++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    let i = 0;
    while (i < BUCKETS.length && v > BUCKETS[i]!) i++;
    this.buckets[i]!++;
  }

  summary(): LatencySummary {
    const sorted = Array.from(this.recent.subarray(0, this.filled)).sort((a, b) => a - b);
    const pct = (p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
    const histogram: Record<string, number> = {};
    BUCKETS.forEach((b, i) => (histogram[`le${b}`] = this.buckets[i]!));
    histogram[`gt${BUCKETS[BUCKETS.length - 1]}`] = this.buckets[BUCKETS.length]!;
    return {
      count: this.count,
      meanUs: this.count === 0 ? 0 : this.sum / this.count,
      p50Us: pct(0.5),
      p99Us: pct(0.99),
      p999Us: pct(0.999),
      maxUs: this.max,
      histogram,
    };
  }
}
