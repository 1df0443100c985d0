// The `--capture*` flags as one open capture, for `run` on a live link and for a replay: the two
// differ only in where time comes from (the wall clock, or the capture being replayed) and in
// the wire view's description.
import type { MachineConfig } from '../board/config.js';
import { openCapture } from '../capture/open.js';
import type { Capture } from '../capture/capture.js';
import type { CaptureSink } from '../capture/file-sink.js';
import type { RunLog } from './log.js';

/** Open cfg.capture (the caller checked it is set); throws the writer's error as is. */
export function openConfiguredCapture(cfg: MachineConfig & { capture: string }, now: () => bigint, wireDescription: string, log: RunLog): { capture: Capture; sink: CaptureSink } {
  return openCapture(cfg.capture, {
    guests: cfg.guests.map((g) => g.name),
    views: cfg.captureViews,
    snaplen: cfg.captureSnaplen,
    precision: cfg.capturePrecision,
    now,
    wireDescription,
    rotation: cfg.captureMaxMb ? { maxBytes: cfg.captureMaxMb * 1_000_000, files: cfg.captureFiles } : undefined,
    onError: (err) => log.warn({ capture: cfg.capture, err: err.message }, 'capture write failed: later frames are counted as lost, not written'),
  });
}
