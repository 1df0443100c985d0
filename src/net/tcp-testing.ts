// Test doubles for TCP's unit tests (not product code): two TcpLayers joined by a segment wire
// the test controls (drop, hold back, reorder, refuse), a handler that records what the
// application hears, and a forger for segments a peer or an attacker would send.
import { expect } from 'vitest';
import { IpProtocol, TcpPacket, TcpRepr, isWireError, pseudoHeaderSum } from '../wire/index.js';
import type { IpAddr, TcpOptions } from '../wire/index.js';
import { ip } from './testing.js';
import { TcpLayer } from './tcp.js';
import type { TcpConfig, TcpConnection, TcpHandler } from './tcp.js';

export const A_IP = ip('10.77.0.1');
export const B_IP = ip('10.77.0.11');

export interface InFlight {
  to: 'a' | 'b';
  src: number;
  dst: number;
  bytes: Uint8Array;
  seg: TcpRepr;
}

/** Two endpoints and the segments between them; `filter` may drop or hold a segment. */
export class Pair {
  t = 1_000_000;
  queue: InFlight[] = [];
  log: Array<{ from: 'a' | 'b'; seg: TcpRepr }> = [];
  filter: ((f: InFlight) => 'pass' | 'drop' | 'hold') | undefined;
  held: InFlight[] = [];
  /** While set, that side's IP layer refuses every segment (a full queue, no route). */
  refuse: { a: boolean; b: boolean } = { a: false, b: false };
  readonly a: TcpLayer;
  readonly b: TcpLayer;

  constructor(cfgA: Partial<TcpConfig> = {}, cfgB: Partial<TcpConfig> = {}) {
    this.a = this.layer('a', A_IP, cfgA);
    this.b = this.layer('b', B_IP, cfgB);
  }

  private layer(me: 'a' | 'b', addr: number, cfg: Partial<TcpConfig>): TcpLayer {
    let r = me === 'a' ? 1 : 2;
    return new TcpLayer(
      {
        now: () => this.t,
        send: (dst: IpAddr, len, emit) => {
          if (this.refuse[me]) return false;
          const bytes = new Uint8Array(len);
          emit(bytes, pseudoHeaderSum(addr, dst as number, IpProtocol.Tcp, len));
          const p = TcpPacket.checked(bytes, pseudoHeaderSum(addr, dst as number, IpProtocol.Tcp, len));
          if (isWireError(p)) throw new Error(p.message);
          const seg = TcpRepr.parse(p) as TcpRepr;
          this.log.push({ from: me, seg });
          this.queue.push({ to: dst === A_IP ? 'a' : 'b', src: addr, dst: dst as number, bytes, seg });
          return true;
        },
      },
      () => addr,
      { mss: 1460, random: () => (r = (r * 2654435761 + 12345) >>> 0), ...cfg },
    );
  }

  /** Deliver queued segments (and what they cause) until the wire is quiet. */
  deliver(limit = 100_000): void {
    this.kick();
    for (let n = 0; this.queue.length > 0; n++) {
      if (n > limit) throw new Error('wire never went quiet');
      const f = this.queue.shift()!;
      const v = this.filter?.(f) ?? 'pass';
      if (v === 'drop') continue;
      if (v === 'hold') {
        this.held.push(f);
        continue;
      }
      this.inject(f);
      if (this.queue.length === 0) this.kick();
    }
  }

  /** What a driver does after every unit: poll a layer whose pollAt() has come. */
  kick(): void {
    for (const l of [this.a, this.b]) {
      const at = l.pollAt();
      if (at !== undefined && at <= this.t) l.poll();
    }
  }

  inject(f: InFlight): ReturnType<TcpLayer['process']> {
    const l = f.to === 'a' ? this.a : this.b;
    return l.process(f.src, f.dst, f.bytes, pseudoHeaderSum(f.src, f.dst, IpProtocol.Tcp, f.bytes.length));
  }

  /** Hold back every data segment to b (release() lets them go). */
  holdData(): void {
    this.filter = (f) => (f.to === 'b' && f.seg.payload.length > 0 ? 'hold' : 'pass');
  }

  /** Release held segments in the given order. */
  release(order?: number[]): void {
    this.filter = undefined;
    const h = this.held;
    this.held = [];
    for (const i of order ?? h.map((_, i) => i)) this.queue.push(h[i]!);
    this.deliver();
  }

  /** Move the clock to each pending deadline up to `t + us`, polling and delivering. */
  run(us: number): void {
    const end = this.t + us;
    this.deliver();
    for (let n = 0; n < 1_000_000; n++) {
      const at = [this.a.pollAt(), this.b.pollAt()].filter((x): x is number => x !== undefined);
      const next = at.length > 0 ? Math.min(...at) : undefined;
      if (next === undefined || next > end) break;
      this.t = Math.max(this.t, next);
      this.a.poll();
      this.b.poll();
      this.deliver();
    }
    this.t = end;
  }

  from(who: 'a' | 'b'): TcpRepr[] {
    return this.log.filter((l) => l.from === who).map((l) => l.seg);
  }

  /** Segments queued for `to` (sent and not yet delivered), removed from the wire. */
  take(to: 'a' | 'b'): TcpRepr[] {
    const out = this.queue.filter((f) => f.to === to).map((f) => f.seg);
    this.queue = this.queue.filter((f) => f.to !== to);
    return out;
  }

  /** The bytes of the last forged segment (a driver may reuse its receive buffer at once). */
  lastForged: Uint8Array | undefined;

  /** Hand `to` a segment from the other side's address, as a peer (or an attacker) would write it. */
  forge(to: 'a' | 'b', s: Forged): ReturnType<TcpLayer['process']> {
    const src = to === 'a' ? B_IP : A_IP;
    const dst = to === 'a' ? A_IP : B_IP;
    const r = new TcpRepr(s.srcPort, s.dstPort, s.seq >>> 0, (s.ack ?? 0) >>> 0, s.flags, s.window ?? 65535, s.options ?? {}, s.payload);
    const bytes = new Uint8Array(r.bufferLen());
    r.emit(bytes, pseudoHeaderSum(src, dst, IpProtocol.Tcp, bytes.length));
    this.lastForged = bytes;
    return (to === 'a' ? this.a : this.b).process(src, dst, bytes, pseudoHeaderSum(src, dst, IpProtocol.Tcp, bytes.length));
  }
}

/** The fields of a forged segment (ports, sequence numbers and flags are the test's choice). */
export interface Forged {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOptions;
  payload?: Uint8Array;
}

/** A handler that records everything. */
export function recorder(): TcpHandler & { data: number[]; ended: boolean; closed: string | undefined; connected: boolean; conn?: TcpConnection } {
  const r = {
    data: [] as number[],
    ended: false,
    closed: undefined as string | undefined,
    connected: false,
    conn: undefined as TcpConnection | undefined,
    onConnect(c: TcpConnection) {
      r.connected = true;
      r.conn = c;
    },
    onData(_c: TcpConnection, d: Uint8Array) {
      for (const x of d) r.data.push(x);
    },
    onEnd() {
      r.ended = true;
    },
    onClose(_c: TcpConnection, why: string) {
      r.closed = why;
    },
  };
  return r;
}

/** b listens on 80 with a recorder per accepted connection; a connects. */
export function established(p: Pair, opts: { backlog?: number } = {}): { client: TcpConnection; server: TcpConnection; cr: ReturnType<typeof recorder>; sr: ReturnType<typeof recorder> } {
  const sr = recorder();
  let server: TcpConnection | undefined;
  p.b.listen(80, {
    backlog: opts.backlog,
    onAccept: (c) => {
      server ??= c;
      if (c === server) c.handler = sr;
    },
  });
  const cr = recorder();
  const client = p.a.connect(B_IP, 80, cr);
  p.deliver();
  expect(server).toBeDefined();
  return { client, server: server!, cr, sr };
}

/** After established(): the client's port and the next sequence number of each side. */
export function seqs(p: Pair): { port: number; cli: number; srv: number } {
  const syn = p.from('a')[0]!;
  const synAck = p.from('b')[0]!;
  return { port: syn.srcPort, cli: (syn.seqNum + 1) >>> 0, srv: (synAck.seqNum + 1) >>> 0 };
}

export const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

