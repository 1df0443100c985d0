// Discard (RFC 863, TCP port 9) and character generator (RFC 864, TCP port 19) on the gpos: a
// sink and a source of bulk TCP data, so throughput to and from the guest can be measured from
// the LAN with nothing but a socket (`npm run bench -- tcp`). Chargen fills the send buffer as
// the window allows (onWritable), never more: its memory is the send buffer.
import type { TcpConnection, TcpLayer } from '../../net/index.js';

export const DISCARD_PORT = 9;
export const CHARGEN_PORT = 19;

export interface BulkCounters {
  connections: number;
  bytes: number;
}

/** RFC 863: read and forget; close when the client does. */
export class DiscardService {
  readonly counters: BulkCounters = { connections: 0, bytes: 0 };

  constructor(tcp: TcpLayer, port = DISCARD_PORT) {
    tcp.listen(port, {
      onAccept: (c) => {
        this.counters.connections++;
        c.handler = { onData: (_c, d) => void (this.counters.bytes += d.length), onEnd: (x) => x.close() };
      },
    });
  }
}

/** The RFC 864 pattern: lines of 72 printable characters, each starting one further along. */
function chargenBlock(): Uint8Array {
  const lines: number[] = [];
  for (let l = 0; l < 95; l++) {
    for (let i = 0; i < 72; i++) lines.push(32 + ((l + i) % 95));
    lines.push(13, 10);
  }
  return Uint8Array.from(lines);
}

/** RFC 864: send until the client closes. */
export class ChargenService {
  readonly counters: BulkCounters = { connections: 0, bytes: 0 };
  private readonly block = chargenBlock();

  constructor(tcp: TcpLayer, port = CHARGEN_PORT) {
    tcp.listen(port, {
      onAccept: (c) => {
        this.counters.connections++;
        let off = 0;
        const fill = (x: TcpConnection): void => {
          for (let n = 1; n > 0; ) {
            n = x.send(this.block.subarray(off));
            this.counters.bytes += n;
            off = (off + n) % this.block.length;
          }
        };
        c.handler = { onWritable: fill, onData: () => {}, onEnd: (x) => x.close() };
        fill(c);
      },
    });
  }
}
