// Replay of a capture into a machine on a virtual clock driven by the capture's timestamps: the
// clock jumps to each frame's time (running the guests' timers on the way), the frame goes in,
// the machine settles; after the last frame a fixed tail of virtual time lets answers leave. No
// wall clock is read, so the same input gives the same output, bytes and timestamps alike.
// Pacing at the recorded speed is the caller's `wait` (real time passes; virtual time is the same).
import type { ManualClock } from '../machine/clock.js';
import type { ReplayFrame, ReplayLink } from '../link/replay.js';

export interface ReplayOptions {
  /** Called with the gap before each frame, in microseconds, before the clock jumps over it. */
  wait?: (us: number) => Promise<void>;
  /** Virtual time to run after the last frame (default 1 s: ARP answers, retries, echo replies). */
  tailUs?: number;
}

export interface ReplayResult {
  fed: number;
  skipped: number;
  /** Virtual time from the first frame to the end of the tail, in microseconds. */
  spanUs: number;
}

/** Feed `frames` through `link` on `clock` (which the machine was built on and started with). */
export async function replay(frames: readonly ReplayFrame[], clock: ManualClock, link: ReplayLink, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const start = clock.now();
  let fed = 0;
  let skipped = 0;
  clock.advance(0);
  for (const f of frames) {
    // A capture's timestamps may step backwards (merged files, clock steps): never go back in time.
    const gap = Math.max(0, f.tsUs - clock.now());
    if (gap > 0) {
      if (opts.wait) await opts.wait(gap);
      clock.advance(gap);
    }
    if (link.feed(f.data)) fed++;
    else skipped++;
    clock.advance(0);
  }
  clock.advance(opts.tailUs ?? 1_000_000);
  return { fed, skipped, spanUs: clock.now() - start };
}
