// TCP echo (RFC 862) on port 7 of the gpos, beside UDP echo: every byte is sent back. When the
// send buffer is full the connection is paused, so the client's own window closes (flow
// control end to end) instead of our memory growing; the peer's FIN is answered with ours.
import type { TcpConnection, TcpLayer } from '../../net/index.js';
import { ECHO_PORT } from './echo.js';

export interface TcpEchoCounters {
  connections: number;
  bytes: number;
  /** Times the send buffer was full and reading paused. */
  stalls: number;
}

export class TcpEchoService {
  readonly counters: TcpEchoCounters = { connections: 0, bytes: 0, stalls: 0 };

  constructor(tcp: TcpLayer, port = ECHO_PORT) {
    tcp.listen(port, { onAccept: (c) => this.accept(c) });
  }

  private accept(c: TcpConnection): void {
    this.counters.connections++;
    let pending: Uint8Array | undefined;
    let ended = false;
    c.handler = {
      onData: (_c, d) => {
        this.counters.bytes += d.length;
        const n = c.send(d);
        if (n < d.length) {
          pending = d.slice(n); // d is a view of the received frame: keep a copy
          this.counters.stalls++;
          c.pause();
        }
      },
      onWritable: () => {
        if (pending === undefined) return;
        const n = c.send(pending);
        pending = n < pending.length ? pending.subarray(n) : undefined;
        if (pending === undefined) {
          if (ended) c.close();
          else c.resume();
        }
      },
      onEnd: () => {
        ended = true;
        if (pending === undefined) c.close();
      },
    };
  }
}
