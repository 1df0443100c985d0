// Replay of a capture into a machine on a virtual clock driven by the capture's timestamps: the
// clock jumps to each frame's time (running the guests' timers on the way), the frame goes in,
// the machine settles; after the last frame the machine runs on until it is quiet (nothing sent
// for a while, nothing queued) or a bounded tail of virtual time has passed. No wall clock is
// read, so the same input gives the same output, bytes and timestamps alike. Pacing at the
// recorded speed is the caller's `wait` (real time passes; virtual time is the same).
import type { ManualClock } from '../machine/clock.js';
import type { ReplayFrame, ReplayLink } from '../link/replay.js';
import { directionOf, type CaptureFile } from '../capture/reader.js';
import { WIRE_VIEW } from '../capture/capture.js';

const LINKTYPE_ETHERNET = 1;
/** Frames between two calls of `pause` (so a host can take signals during a long replay). */
const PAUSE_EVERY = 256;

export interface ReplayOptions {
  /** Called with the gap before each frame, in microseconds, before the clock jumps over it. */
  wait?: (us: number) => Promise<void>;
  /** Called every few hundred frames (a host yields to its event loop there). */
  pause?: () => Promise<void>;
  /** Checked before each frame: true ends the replay early (a stop was asked for). */
  stopped?: () => boolean;
  /** A gap between two frames longer than this is shortened to it (counted); default none. */
  maxGapUs?: number;
  /** Virtual time to run after the last frame at most (default 1 s: ARP answers, retries, echo replies). */
  tailUs?: number;
  /**
   * End the tail early once nothing was sent for `quietUs` and `busy()` is false (nothing
   * queued), checked every `stepUs`. Without it the whole tail runs.
   */
  settle?: { quietUs: number; stepUs: number; busy: () => boolean };
}

export interface ReplayResult {
  fed: number;
  skipped: number;
  /** Gaps longer than `maxGapUs`, shortened to it. */
  gapsShortened: number;
  /** Virtual time from the first frame to the end of the tail, in microseconds. */
  spanUs: number;
  /** Virtual time run after the last frame, in microseconds. */
  tailUs: number;
  /** True when `stopped()` ended the replay before the last frame. */
  interrupted: boolean;
}

/** Feed `frames` through `link` on `clock` (which the machine was built on and started with). */
export async function replay(frames: readonly ReplayFrame[], clock: ManualClock, link: ReplayLink, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const start = clock.now();
  const maxGap = opts.maxGapUs ?? Infinity;
  let fed = 0;
  let skipped = 0;
  let gapsShortened = 0;
  let interrupted = false;
  /** Where the capture's own time stood at the previous frame (shortened gaps move the clock less). */
  let lastTs: number | undefined;
  clock.advance(0);
  for (let i = 0; i < frames.length; i++) {
    if (opts.stopped?.()) {
      interrupted = true;
      break;
    }
    if (opts.pause && i > 0 && i % PAUSE_EVERY === 0) await opts.pause();
    const f = frames[i]!;
    // A capture's timestamps may step backwards (merged files, clock steps): never go back in time.
    let gap = lastTs === undefined ? Math.max(0, f.tsUs - clock.now()) : Math.max(0, f.tsUs - lastTs);
    lastTs = lastTs === undefined ? f.tsUs : Math.max(lastTs, f.tsUs);
    if (gap > maxGap) {
      gap = maxGap;
      gapsShortened++;
    }
    if (gap > 0) {
      if (opts.wait) await opts.wait(gap);
      clock.advance(gap);
    }
    if (link.feed(f.data)) fed++;
    else skipped++;
    clock.advance(0);
  }
  const tailStart = clock.now();
  const tail = opts.tailUs ?? 1_000_000;
  const settle = opts.settle;
  if (!settle || interrupted) clock.advance(interrupted ? 0 : tail);
  else {
    let sent = link.stats.txFrames;
    let quietSince = clock.now();
    while (clock.now() - tailStart < tail) {
      clock.advance(Math.min(settle.stepUs, tail - (clock.now() - tailStart)));
      if (link.stats.txFrames !== sent || settle.busy()) {
        sent = link.stats.txFrames;
        quietSince = clock.now();
      } else if (clock.now() - quietSince >= settle.quietUs) break;
    }
  }
  return { fed, skipped, gapsShortened, spanUs: clock.now() - start, tailUs: clock.now() - tailStart, interrupted };
}

export interface CaptureFrames {
  frames: ReplayFrame[];
  /** Capture time of the first frame in nanoseconds since the epoch: virtual time 0. */
  firstNs: bigint;
  /** The interfaces the frames were taken from (names, or `#index` when unnamed). */
  views: string[];
  /** Frames left out: recorded as sent by the machine (pcapng direction out) or on other interfaces. */
  leftOut: number;
}

/**
 * The frames of a capture to feed a machine, with times in microseconds from the first one.
 * pcapng with several interfaces: the `wire` interface when one is named so (a nanoshare capture),
 * else the first Ethernet interface; frames marked outbound (epb_flags) are left
 * out, since they are what the recorded machine sent. Classic pcap: every frame. A string when
 * the capture cannot be replayed (no Ethernet interface).
 */
export function framesFromCapture(cap: CaptureFile): CaptureFrames | string {
  const eth = cap.interfaces.map((intf, i) => ({ intf, i })).filter(({ intf }) => intf.linktype === LINKTYPE_ETHERNET);
  if (eth.length === 0) {
    const types = [...new Set(cap.interfaces.map((x) => x.linktype))].join(', ');
    return cap.interfaces.length === 0 ? 'no interface described' : `no Ethernet interface (linktype ${types}; replay takes linktype 1)`;
  }
  let chosen = eth.filter(({ intf }) => intf.name === WIRE_VIEW);
  if (chosen.length === 0) chosen = [eth[0]!];
  const take = new Set(chosen.map(({ i }) => i));
  const packets = cap.packets.filter((p) => take.has(p.ifIndex) && directionOf(p.flags) !== 'out');
  const firstNs = packets[0]?.tsNs ?? 0n;
  return {
    frames: packets.map((p) => ({ tsUs: Number(p.tsNs - firstNs) / 1000, data: p.data })),
    firstNs,
    views: chosen.map(({ intf, i }) => intf.name ?? `#${i}`),
    leftOut: cap.packets.length - packets.length,
  };
}
