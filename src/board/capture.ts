// Feeds a Capture from the nanokernel's switch observer: each frame with what the switch decided
// (delivered from the wire, sent to the wire, guest to guest, dropped and why). The capture
// knows nothing of the nanokernel, the nanokernel nothing of captures; this is the whole seam.
import type { Capture } from '../capture/capture.js';
import { DROP_TEXT, type DropReason, type SwitchObserver } from '../nanokernel/nanokernel.js';

/**
 * Drops of frames that came from the wire and were given to no guest: the wire view shows them
 * (the port a spoof names is the one it claimed to be, not one it reached). Full or halted
 * queues show in the view of the guest that did not get the frame.
 */
const FROM_WIRE: ReadonlySet<DropReason> = new Set<DropReason>(['rxRunt', 'rxUnknownUnicast', 'rxNoSubscriber', 'rxSpoofedMac', 'rxSpoofedIp']);

/** The observer that writes every decision of the switch into `capture` (no object per frame). */
export function captureObserver(capture: Capture): SwitchObserver {
  return {
    rx: (frame, to, cast) => capture.rx(frame, to, cast),
    tx: (frame, from) => capture.tx(frame, from),
    local: (frame, from, to) => capture.local(frame, from, to),
    drop: (reason: DropReason, frame, port) =>
      // A drop on the way in (rx...) or out (tx...) of the port named, or of the wire when none is.
      capture.drop(frame, DROP_TEXT[reason], reason.startsWith('tx') ? 'tx' : 'rx', FROM_WIRE.has(reason) ? undefined : port),
  };
}
