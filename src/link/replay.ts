// link/replay: the NIC's cable as a recorded capture. The frames of a pcap/pcapng file are fed in
// one at a time by a driver that owns the clock (board/replay.ts), so a replay is deterministic:
// the same input gives the same output bytes. What the machine sends goes nowhere (a capture
// wrapped around the machine records it); it is only counted.
import { countSend, emptyLinkStats, type Link, type LinkReceiver, type LinkStats } from './link.js';

/** One recorded frame: its capture timestamp (microseconds, on the replay clock's scale) and its bytes. */
export interface ReplayFrame {
  tsUs: number;
  data: Uint8Array;
}

const ETHERNET_HEADER_LEN = 14;
const FRAME_OVERHEAD = 18;

export interface ReplayLinkStats extends LinkStats {
  /** Recorded frames shorter than an Ethernet header or longer than mtu + 18, not fed in. */
  rxSkipped: number;
}

export class ReplayLink implements Link {
  readonly stats: ReplayLinkStats = { ...emptyLinkStats(), rxSkipped: 0 };
  private rx: LinkReceiver | undefined;
  private closed = false;

  constructor(readonly name: string, readonly mtu = 1500) {}

  send(frame: Uint8Array): boolean {
    return countSend(this.stats, frame, !this.closed);
  }

  attach(rx: LinkReceiver): void {
    if (this.rx) throw new Error(`${this.name}: attach called twice`);
    this.rx = rx;
  }

  /** Feed one recorded frame to the machine, as one batch. False when it was skipped. */
  feed(frame: Uint8Array): boolean {
    if (this.closed || !this.rx || frame.length < ETHERNET_HEADER_LEN || frame.length > this.mtu + FRAME_OVERHEAD) {
      this.stats.rxSkipped++;
      return false;
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.rx.onFrames([frame]);
    return true;
  }

  close(): void {
    this.closed = true;
  }
}
