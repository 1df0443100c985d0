// Capture as a wrapper around the switch's ports and the link (smoltcp's phy tracer, gVisor's
// sniffer): it is fed (frame, decision) by whoever observes the nanokernel and writes each
// frame into the views it concerns: `wire` (what crossed the NIC) and one view per guest (what
// that guest received and sent). In pcapng each view is an interface, each frame an Enhanced
// Packet Block with its direction in epb_flags and the decision as its comment; classic pcap
// has the wire view only. It never changes, holds or delays a frame: the bytes are copied into
// the sink's buffer during the call.
import { PCAP_RECORD_HEADER_LEN, pcapGlobalHeader, writePcapRecordAt, type PcapPrecision } from './pcap.js';
import { enhancedPacketLen, pcapngHeader, writeEnhancedPacketAt, type Direction } from './pcapng.js';
import type { CaptureSink } from './file-sink.js';

export type Cast = 'unicast' | 'broadcast' | 'multicast';

/** What the nanokernel did with a frame. Names are port (guest) names. */
export type Decision =
  /** From the wire, delivered to these guests. */
  | { kind: 'rx'; to: readonly string[]; cast: Cast }
  /** From a guest, out on the wire. */
  | { kind: 'tx'; from: string }
  /** From one guest to another, never on the wire. */
  | { kind: 'local'; from: string; to: string }
  /**
   * Dropped, with the counter's name and its words: on its way in (`rx`) to the guest `port`
   * (from the wire when `port` is undefined) or on its way out (`tx`) of it.
   */
  | { kind: 'drop'; reason: string; text: string; side: 'rx' | 'tx'; port: string | undefined };

/** The packet comment for a decision: `rx -> rtos,gpos (broadcast)`, `tx rtos`, `drop: queue full`. */
export function decisionComment(d: Decision): string {
  switch (d.kind) {
    case 'rx':
      return `rx -> ${d.to.join(',')}${d.cast === 'unicast' ? '' : ` (${d.cast})`}`;
    case 'tx':
      return `tx ${d.from}`;
    case 'local':
      return `local ${d.from} -> ${d.to}`;
    case 'drop':
      return `drop: ${d.text}`;
  }
}

export const WIRE_VIEW = 'wire';
export type CaptureFormat = 'pcap' | 'pcapng';

export interface CaptureOptions {
  format: CaptureFormat;
  /** Guest names, in the order their interfaces are described (after `wire`). */
  guests: readonly string[];
  /** Views to write (default: wire and every guest). Classic pcap writes `wire` only. */
  views?: readonly string[];
  snaplen?: number;
  /** Timestamp resolution of classic pcap (pcapng is always nanoseconds). */
  precision?: PcapPrecision;
  /** Wall-clock time in nanoseconds. */
  now: () => bigint;
  /** Description of the wire view's interface (the link's name). */
  wireDescription?: string;
}

export const DEFAULT_SNAPLEN = 262144;

/** The format a capture path asks for: `.pcapng` (and stdout) is pcapng, anything else classic pcap. */
export function formatOf(path: string): CaptureFormat {
  return path === '-' || path.toLowerCase().endsWith('.pcapng') ? 'pcapng' : 'pcap';
}

export interface ViewCounters {
  in: number;
  out: number;
}

/** One view's state: its interface index, its counters, the last frame written out of it. */
interface View {
  readonly index: number;
  readonly counters: ViewCounters;
  /**
   * The last frame written out of the view (compared by identity, never read). A guest's
   * broadcast is reported as a local delivery to each other guest and as a transmission; it
   * left the guest once, so the sender's view shows it once.
   */
  lastOut: Uint8Array | undefined;
}

/** Distinct comments kept encoded, at most (names come from the config, so a few per guest). */
const COMMENTS_MAX = 1024;

export class Capture {
  /** Frames written per view, by direction. */
  readonly counters: Record<string, ViewCounters> = {};
  private readonly byName = new Map<string, View>();
  private readonly pcapng: boolean;
  private readonly snaplen: number;
  private scratch = new Uint8Array(64 * 1024);
  /**
   * Encoded comments by what they say, looked up by the decision's parts (port names, which are
   * the same strings every time), so a frame costs no string building: rx to one port by cast,
   * tx by sender, local by sender then receiver, drop by reason text. The rest (rx to several
   * ports: broadcast) by the comment's text.
   */
  private readonly rxComments: Record<Cast, Map<string, Uint8Array>> = { unicast: new Map(), broadcast: new Map(), multicast: new Map() };
  private readonly txComments = new Map<string, Uint8Array>();
  private readonly localComments = new Map<string, Map<string, Uint8Array>>();
  private readonly dropComments = new Map<string, Uint8Array>();
  private readonly textComments = new Map<string, Uint8Array>();
  private commentCount = 0;
  /** The decision being written: its timestamp (taken once: every view shows the same instant) and comment. */
  private tsHigh = 0;
  private tsLow = 0;
  private tsSec = 0;
  private tsFrac = 0;
  readonly header: Uint8Array;
  private sink: CaptureSink | undefined;

  constructor(private readonly opts: CaptureOptions) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    this.pcapng = opts.format === 'pcapng';
    const all = [WIRE_VIEW, ...opts.guests];
    const wanted = opts.format === 'pcap' ? [WIRE_VIEW] : (opts.views ?? all);
    for (const v of wanted) if (!all.includes(v)) throw new Error(`unknown capture view ${JSON.stringify(v)} (known: ${all.join(', ')})`);
    const views = all.filter((v) => wanted.includes(v));
    views.forEach((v, index) => {
      const counters = { in: 0, out: 0 };
      this.counters[v] = counters;
      this.byName.set(v, { index, counters, lastOut: undefined });
    });
    this.header =
      opts.format === 'pcap'
        ? pcapGlobalHeader(opts.precision ?? 'us', this.snaplen)
        : pcapngHeader(views.map((v) => ({ name: v, description: v === WIRE_VIEW ? `the NIC's cable${opts.wireDescription ? ` (${opts.wireDescription})` : ''}` : `guest ${v}: what it received and sent`, snaplen: this.snaplen })));
  }

  /** The views written, in interface order. */
  get views(): string[] {
    return [...this.byName.keys()];
  }

  /** Start writing into `sink` (which has already written `header`). */
  attach(sink: CaptureSink): void {
    this.sink = sink;
  }

  /** One frame and what the nanokernel decided about it. */
  record(frame: Uint8Array, d: Decision): void {
    switch (d.kind) {
      case 'rx':
        return this.rx(frame, d.to, d.cast);
      case 'tx':
        return this.tx(frame, d.from);
      case 'local':
        return this.local(frame, d.from, d.to);
      case 'drop':
        return this.drop(frame, d.text, d.side, d.port);
    }
  }

  /** From the wire, delivered to the guests `to`: in on the wire and in each of theirs. */
  rx(frame: Uint8Array, to: readonly string[], cast: Cast): void {
    if (!this.sink) return;
    this.stamp();
    let comment: Uint8Array | undefined;
    if (this.pcapng) {
      if (to.length === 1) {
        const byPort = this.rxComments[cast];
        comment = byPort.get(to[0]!) ?? this.keep(byPort, to[0]!, decisionComment({ kind: 'rx', to, cast }));
      } else comment = this.textComment(decisionComment({ kind: 'rx', to, cast }));
    }
    this.write(WIRE_VIEW, 'in', frame, comment);
    for (let i = 0; i < to.length; i++) this.write(to[i]!, 'in', frame, comment);
  }

  /** From guest `from`, out on the wire: out of its view and of the wire's. */
  tx(frame: Uint8Array, from: string): void {
    if (!this.sink) return;
    this.stamp();
    const comment = this.pcapng ? (this.txComments.get(from) ?? this.keep(this.txComments, from, decisionComment({ kind: 'tx', from }))) : undefined;
    if (this.sentBefore(from, frame)) return this.write(WIRE_VIEW, 'out', frame, comment);
    this.write(from, 'out', frame, comment);
    this.write(WIRE_VIEW, 'out', frame, comment);
  }

  /** From guest `from` to guest `to`, never on the wire. */
  local(frame: Uint8Array, from: string, to: string): void {
    if (!this.sink) return;
    this.stamp();
    let comment: Uint8Array | undefined;
    if (this.pcapng) {
      let byTo = this.localComments.get(from);
      if (!byTo) this.localComments.set(from, (byTo = new Map()));
      comment = byTo.get(to) ?? this.keep(byTo, to, decisionComment({ kind: 'local', from, to }));
    }
    if (!this.sentBefore(from, frame)) this.write(from, 'out', frame, comment);
    this.write(to, 'in', frame, comment);
  }

  /**
   * Dropped, with the reason's words: on its way in (`rx`) to the guest `port`, or out (`tx`) of
   * it; in the wire's view when no port is named (a frame from the wire no guest was given).
   */
  drop(frame: Uint8Array, text: string, side: 'rx' | 'tx', port: string | undefined): void {
    if (!this.sink) return;
    this.stamp();
    const comment = this.pcapng ? (this.dropComments.get(text) ?? this.keep(this.dropComments, text, `drop: ${text}`)) : undefined;
    this.write(port ?? WIRE_VIEW, side === 'rx' ? 'in' : 'out', frame, comment);
  }

  /**
   * The frame was already written out of `from`'s view (a broadcast also reported as local
   * deliveries). Otherwise it is now the last frame out of that view.
   */
  private sentBefore(from: string, frame: Uint8Array): boolean {
    const v = this.byName.get(from);
    if (v === undefined) return false;
    if (v.lastOut === frame) return true;
    v.lastOut = frame;
    return false;
  }

  /** The decision's timestamp, taken once for all the views it is written into. */
  private stamp(): void {
    const ts = this.opts.now();
    if (this.pcapng) {
      this.tsHigh = Number(ts >> 32n);
      this.tsLow = Number(BigInt.asUintN(32, ts));
    } else {
      const sec = ts / 1_000_000_000n;
      this.tsSec = Number(sec);
      this.tsFrac = Number(ts - sec * 1_000_000_000n);
    }
  }

  private write(view: string, dir: Direction, frame: Uint8Array, comment: Uint8Array | undefined): void {
    const v = this.byName.get(view);
    if (v === undefined) return;
    let n: number;
    if (this.pcapng) {
      this.ensure(enhancedPacketLen(frame.length, this.snaplen, comment));
      n = writeEnhancedPacketAt(this.scratch, 0, v.index, this.tsHigh, this.tsLow, frame, this.snaplen, dir, comment);
    } else {
      this.ensure(PCAP_RECORD_HEADER_LEN + frame.length);
      n = writePcapRecordAt(this.scratch, 0, frame, this.tsSec, this.tsFrac, this.opts.precision ?? 'us', this.snaplen);
    }
    this.sink!.write(this.scratch.subarray(0, n));
    if (dir === 'in') v.counters.in++;
    else v.counters.out++;
  }

  private ensure(n: number): void {
    if (this.scratch.length < n) this.scratch = new Uint8Array(n);
  }

  /** Encode a comment and keep it under `key` (while fewer than COMMENTS_MAX are kept). */
  private keep(map: Map<string, Uint8Array>, key: string, text: string): Uint8Array {
    const c = utf8.encode(text);
    if (this.commentCount < COMMENTS_MAX) {
      map.set(key, c);
      this.commentCount++;
    }
    return c;
  }

  private textComment(text: string): Uint8Array {
    return this.textComments.get(text) ?? this.keep(this.textComments, text, text);
  }
}

const utf8 = new TextEncoder();
