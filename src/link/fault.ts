// A Link wrapper that misbehaves on purpose, for tests (smoltcp's phy::FaultInjector): it drops,
// duplicates, delays and reorders frames in either direction, each by a probability drawn from a
// seeded PRNG, so a failing run replays exactly from its seed. Time is injected: delayed frames
// are released by poll(), when pollAt() says, never by a timer of its own.
import { type Link, type LinkReceiver, type LinkStats } from './link.js';

export interface FaultOptions {
  /** PRNG seed: the same seed and traffic give the same faults. */
  seed: number;
  /** Probability that a frame is dropped (0..1). */
  drop?: number;
  /** Probability that a frame is delivered twice. */
  duplicate?: number;
  /** Probability that a frame is held back and delivered after the next one. */
  reorder?: number;
  /** Every frame is delayed this many µs (plus up to jitterUs); 0 delivers at once. */
  delayUs?: number;
  jitterUs?: number;
  /** Which direction misbehaves: frames sent (tx), received (rx), or both (default). */
  direction?: 'tx' | 'rx' | 'both';
}

export interface FaultStats {
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
}

interface Held {
  at: number;
  frame: Uint8Array;
}

/** One direction's faults: frames go in with put(), come out through `out`. */
class FaultPath {
  private readonly late: Held[] = [];
  private heldBack: Uint8Array | undefined;

  constructor(
    private readonly o: Required<Omit<FaultOptions, 'seed' | 'direction'>>,
    private readonly rnd: () => number,
    private readonly stats: FaultStats,
    private readonly now: () => number,
    private readonly out: (frame: Uint8Array) => void,
  ) {}

  put(frame: Uint8Array): void {
    if (this.rnd() < this.o.drop) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rnd() < this.o.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) this.order(frame);
  }

  private order(frame: Uint8Array): void {
    if (this.heldBack === undefined && this.rnd() < this.o.reorder) {
      this.stats.reordered++;
      this.heldBack = frame;
      return;
    }
    this.later(frame);
    const back = this.heldBack;
    this.heldBack = undefined;
    if (back !== undefined) this.later(back);
  }

  private later(frame: Uint8Array): void {
    const d = this.o.delayUs + (this.o.jitterUs > 0 ? Math.floor(this.rnd() * this.o.jitterUs) : 0);
    if (d <= 0 && this.late.length === 0) return this.out(frame);
    this.stats.delayed++;
    // Jitter may reorder too; frames are kept sorted by release time (stable for equal times).
    const at = this.now() + d;
    let i = this.late.length;
    while (i > 0 && this.late[i - 1]!.at > at) i--;
    this.late.splice(i, 0, { at, frame });
  }

  pollAt(): number | undefined {
    return this.late[0]?.at;
  }

  /** Release what is due; a frame held back for reordering goes once nothing follows it. */
  poll(flushHeld: boolean): void {
    const now = this.now();
    while (this.late.length > 0 && this.late[0]!.at <= now) this.out(this.late.shift()!.frame);
    if (flushHeld && this.heldBack !== undefined) {
      const f = this.heldBack;
      this.heldBack = undefined;
      this.later(f);
    }
  }
}

export class FaultLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly faults: FaultStats = { dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };
  private rx: LinkReceiver | undefined;
  private readonly tx: FaultPath | undefined;
  private readonly rxPath: FaultPath | undefined;

  constructor(
    private readonly inner: Link,
    opts: FaultOptions,
    now: () => number,
  ) {
    this.name = `fault(${inner.name})`;
    this.mtu = inner.mtu;
    const o = { drop: opts.drop ?? 0, duplicate: opts.duplicate ?? 0, reorder: opts.reorder ?? 0, delayUs: opts.delayUs ?? 0, jitterUs: opts.jitterUs ?? 0 };
    for (const [k, v] of Object.entries(o)) {
      if (!(v >= 0) || (k !== 'delayUs' && k !== 'jitterUs' && v > 1)) throw new RangeError(`FaultLink: ${k} ${v} out of range`);
    }
    const rnd = seededRandom(opts.seed);
    const dir = opts.direction ?? 'both';
    if (dir !== 'rx') this.tx = new FaultPath(o, rnd, this.faults, now, (f) => void this.inner.send(f));
    if (dir !== 'tx') this.rxPath = new FaultPath(o, rnd, this.faults, now, (f) => this.rx?.onFrames([f]));
  }

  get stats(): LinkStats {
    return this.inner.stats;
  }

  /** True even for a frame the fault path dropped: as on a wire, the sender cannot tell. */
  send(frame: Uint8Array): boolean {
    if (this.tx === undefined) return this.inner.send(frame);
    this.tx.put(frame);
    return true;
  }

  attach(rx: LinkReceiver): void {
    this.rx = rx;
    this.inner.attach({
      onFrames: (batch) => {
        if (this.rxPath === undefined) return rx.onFrames(batch);
        for (const f of batch) this.rxPath.put(f);
      },
      onError: (e) => rx.onError(e),
    });
  }

  /** When poll() next has frames to release, or undefined. */
  pollAt(): number | undefined {
    const a = this.tx?.pollAt();
    const b = this.rxPath?.pollAt();
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  /** Release delayed frames that are due; `flushHeld` also lets go of a frame held back for reordering. */
  poll(flushHeld = false): void {
    this.tx?.poll(flushHeld);
    this.rxPath?.poll(flushHeld);
  }

  close(): void {
    this.inner.close();
  }
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)), so a run with faults replays from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
