// An in-memory cable for tests: what the machine sends is recorded, and the test injects frames
// as if they came from the wire. Two MemoryLinks can be plugged back to back.
import { countSend, emptyLinkStats, type Link, type LinkReceiver, type LinkStats } from './link.js';

export class MemoryLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly stats: LinkStats = emptyLinkStats();
  /** Frames the machine sent, oldest first (bounded: the oldest are dropped past `sentMax`). */
  readonly sent: Uint8Array[] = [];
  private rx: LinkReceiver | undefined;
  private peer: MemoryLink | undefined;
  private closed = false;

  constructor(name = 'mem0', mtu = 1500, private readonly sentMax = 100_000) {
    this.name = name;
    this.mtu = mtu;
  }

  /** Plug two links back to back: what one sends, the other receives (in the same tick). */
  static pair(a: MemoryLink, b: MemoryLink): void {
    a.peer = b;
    b.peer = a;
  }

  send(frame: Uint8Array): boolean {
    if (!countSend(this.stats, frame, !this.closed)) return false;
    if (this.sent.length >= this.sentMax) this.sent.shift();
    this.sent.push(frame);
    this.peer?.inject([frame]);
    return true;
  }

  attach(rx: LinkReceiver): void {
    this.rx = rx;
  }

  /** Deliver frames as if they arrived from the wire, as one batch. */
  inject(batch: readonly Uint8Array[]): void {
    if (this.closed || !this.rx) return;
    for (const f of batch) {
      this.stats.rxFrames++;
      this.stats.rxBytes += f.length;
    }
    this.rx.onFrames(batch);
  }

  /** Take (and forget) what was sent so far. */
  drain(): Uint8Array[] {
    return this.sent.splice(0, this.sent.length);
  }

  close(): void {
    this.closed = true;
  }
}
