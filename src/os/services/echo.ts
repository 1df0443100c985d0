// UDP echo (RFC 862) on port 7: every datagram is sent back to where it came from, unless the
// reflector policy (net/reflector.ts) says no: never to a reflector's port (7, 9, 13, 17, 19,
// 37), and at most so many replies a second to one source. Echo is the classic half of a
// reflection loop (Fraggle); this one cannot be made to spin, with another guest or anyone else.
import type { NetStack, ReflectorCounters, ReflectorLimits, UdpSocket } from '../../net/index.js';
import { ReflectorGuard } from '../../net/index.js';

export const ECHO_PORT = 7;

export interface EchoCounters {
  datagrams: number;
  bytes: number;
  /** Replies the stack could not send (no route, ARP queue full, TX queue full). */
  replyDropped: number;
  /** Datagrams not answered by policy (see ReflectorCounters). */
  reflector: ReflectorCounters;
}

export interface EchoOptions {
  port?: number;
  /** Reflector rate limits (default 1000 replies/s per source, burst 64, 256 sources). */
  limits?: Partial<ReflectorLimits>;
}

export class EchoService {
  private readonly socket: UdpSocket;
  private readonly guard: ReflectorGuard;
  private readonly stats = { datagrams: 0, bytes: 0, replyDropped: 0 };

  /** `now`: the guest's monotonic clock (µs), for the per-source rate limit. */
  constructor(net: NetStack, now: () => number, opts: EchoOptions = {}) {
    this.guard = new ReflectorGuard(opts.limits);
    this.socket = net.udpBind(opts.port ?? ECHO_PORT, (d) => {
      this.stats.datagrams++;
      this.stats.bytes += d.payload.length;
      if (this.guard.check(d.src, d.srcPort, now()) !== 'answer') return;
      if (!this.socket.send(d.src, d.srcPort, d.payload)) this.stats.replyDropped++;
    });
  }

  get counters(): EchoCounters {
    return { ...this.stats, reflector: { ...this.guard.counters } };
  }

  close(): void {
    this.socket.close();
  }
}
