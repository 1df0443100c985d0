// `nanoshare run --link pcap:FILE`: replay a capture into the machine instead of running it on a
// TAP. No device, no host network, no privileges: the file is read whole and checked before
// anything boots (a cut or damaged file is exit 2 naming the byte), the machine runs on a virtual
// clock whose time is the capture's, every recorded frame goes in at its time (as fast as
// possible, or at the recorded pace), and after the last one the machine runs on until it is
// quiet. `--capture` records what the guests answered, with timestamps on the capture's time line,
// so the same input gives the same output bytes. Nothing here reads the wall clock for the machine.
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { MachineConfig } from '../board/config.js';
import { buildMachine, describeGuests } from '../board/machine.js';
import { framesFromCapture, replay } from '../board/replay.js';
import { openConfiguredCapture } from './capture.js';
import { readCapture } from '../capture/reader.js';
import type { CaptureSink } from '../capture/file-sink.js';
import type { Capture } from '../capture/capture.js';
import { ReplayLink } from '../link/replay.js';
import { ManualClock } from '../machine/clock.js';
import { Lifecycle } from '../host/lifecycle.js';
import { summarize } from './stats.js';
import { runLogger, type RunLog } from './log.js';

/** Largest input read (the file is read whole). */
const MAX_INPUT_BYTES = 1 << 30;
/** A gap between two recorded frames is shortened to this (counted): a capture spanning days must not run days of timers. */
export const REPLAY_MAX_GAP_US = 300_000_000;
/** After the last frame: run until nothing was sent for QUIET and nothing is queued, at most TAIL. */
export const REPLAY_QUIET_US = 250_000;
export const REPLAY_TAIL_US = 5_000_000;
const STEP_US = 1000;

/** Read and check the input; a string is the one-line error (exit 2). */
export function readReplayInput(path: string): ReturnType<typeof framesFromCapture> {
  const what = `--link pcap:${path}`;
  let bytes: Uint8Array;
  try {
    const size = statSync(path).size;
    if (size > MAX_INPUT_BYTES) return `${what}: ${size} bytes, larger than the ${MAX_INPUT_BYTES} a replay reads`;
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `${what}: cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`;
  }
  const cap = readCapture(bytes);
  if (cap.stopped !== undefined) {
    const at = /at byte \d+/.test(cap.stopped) ? '' : `, at byte ${cap.validBytes}`;
    return `${what}: ${cap.stopped}${at}`;
  }
  const frames = framesFromCapture(cap);
  return typeof frames === 'string' ? `${what}: ${frames}` : frames;
}

export async function runReplay(cfg: MachineConfig, path: string, pace: 'fast' | 'recorded'): Promise<number> {
  const log: RunLog = await runLogger(cfg.logLevel, cfg.logFormat, 2, process.stderr.isTTY === true);
  const input = readReplayInput(path);
  if (typeof input === 'string') {
    process.stderr.write(`nanoshare: ${input}\n`);
    return 2;
  }
  const life = new Lifecycle(log).install();
  const clock = new ManualClock(0);
  // The name, and so the capture's wire description, is the file's name only: the output does not
  // depend on where the input lies.
  const link = new ReplayLink(`pcap:${basename(path)}`, cfg.mtu);
  let capture: Capture | undefined;
  let sink: CaptureSink | undefined;
  if (cfg.capture) {
    try {
      // The capture's time line: virtual time 0 is the first recorded frame.
      const now = () => input.firstNs + BigInt(Math.round(clock.now() * 1000));
      ({ capture, sink } = openConfiguredCapture({ ...cfg, capture: cfg.capture }, now, link.name, log));
    } catch (e) {
      life.uninstall();
      process.stderr.write(`nanoshare: --capture ${cfg.capture}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const machine = buildMachine(cfg, link, clock, {
    capture,
    onFault: (f) => log.error({ guest: f.guest, action: f.action, during: f.during, faults: f.faults, suppressed: f.suppressed, err: f.message, stack: f.stack }, 'guest fault'),
  });
  machine.start();
  log.info({ link: 'pcap', file: path, pace, frames: input.frames.length, views: input.views, leftOut: input.leftOut, capture: cfg.capture, guests: describeGuests(cfg, machine) }, 'ready');

  let result;
  try {
    result = await replay(input.frames, clock, link, {
      stopped: () => life.stopping,
      pause: () => new Promise<void>((resolve) => setImmediate(resolve)),
      wait: pace === 'recorded' ? (us) => Promise.race([new Promise<void>((resolve) => setTimeout(resolve, us / 1000)), life.stopRequested.then(() => undefined)]) : undefined,
      maxGapUs: REPLAY_MAX_GAP_US,
      tailUs: REPLAY_TAIL_US,
      settle: { quietUs: REPLAY_QUIET_US, stepUs: STEP_US, busy: () => machine.nic.txPending() > 0 },
    });
  } finally {
    machine.stop();
    link.close();
    sink?.close();
    life.uninstall();
  }
  log.info(
    {
      file: path,
      fed: result.fed,
      skipped: link.stats.rxSkipped,
      leftOut: input.leftOut,
      gapsShortened: result.gapsShortened,
      sent: link.stats.txFrames,
      virtualS: result.spanUs / 1e6,
      interrupted: result.interrupted || undefined,
      stats: summarize(machine.stats()),
      capturedByView: capture?.counters,
    },
    'replayed',
  );
  return life.fatalError ? 1 : 0;
}
