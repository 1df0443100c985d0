// Capture wraps the link, it is not woven into the demux (smoltcp's phy tracer, gVisor's
// sniffer): every frame that crosses the NIC, in either direction, is handed to the sink.
import type { Link, LinkReceiver, LinkStats } from '../link/link.js';

export interface FrameSink {
  record(frame: Uint8Array): void;
}

export class CaptureLink implements Link {
  constructor(private readonly inner: Link, private readonly sink: FrameSink) {}

  get name(): string {
    return this.inner.name;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  get stats(): LinkStats {
    return this.inner.stats;
  }

  send(frame: Uint8Array): boolean {
    this.sink.record(frame);
    return this.inner.send(frame);
  }

  attach(rx: LinkReceiver): void {
    this.inner.attach({
      onFrames: (batch) => {
        for (const f of batch) this.sink.record(f);
        rx.onFrames(batch);
      },
      onError: (err) => rx.onError(err),
    });
  }

  close(): void {
    this.inner.close();
  }
}
