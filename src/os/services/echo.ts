// UDP echo (RFC 862) on port 7: every datagram is sent back to where it came from.
import type { NetStack, UdpSocket } from '../../net/index.js';

export const ECHO_PORT = 7;

export interface EchoCounters {
  datagrams: number;
  bytes: number;
  /** Replies the stack could not send (no route, ARP queue full, TX queue full). */
  replyDropped: number;
}

export class EchoService {
  readonly counters: EchoCounters = { datagrams: 0, bytes: 0, replyDropped: 0 };
  private readonly socket: UdpSocket;

  constructor(net: NetStack, port = ECHO_PORT) {
    this.socket = net.udpBind(port, (d) => {
      this.counters.datagrams++;
      this.counters.bytes += d.payload.length;
      if (!this.socket.send(d.src, d.srcPort, d.payload)) this.counters.replyDropped++;
    });
  }

  close(): void {
    this.socket.close();
  }
}
