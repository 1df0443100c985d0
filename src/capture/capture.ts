// Capture as a wrapper around the switch's ports and the link (smoltcp's phy tracer, gVisor's
// sniffer): it is fed (frame, decision) by whoever observes the nanokernel and writes each
// frame into the views it concerns: `wire` (what crossed the NIC) and one view per guest (what
// that guest received and sent). In pcapng each view is an interface, each frame an Enhanced
// Packet Block with its direction in epb_flags and the decision as its comment; classic pcap
// has the wire view only. It never changes, holds or delays a frame: the bytes are copied into
// the sink's buffer during the call.
import { PCAP_RECORD_HEADER_LEN, pcapGlobalHeader, writePcapRecord, type PcapPrecision } from './pcap.js';
import { enhancedPacketLen, pcapngHeader, writeEnhancedPacket, type Direction } from './pcapng.js';
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

export class Capture {
  /** Frames written per view, by direction. */
  readonly counters: Record<string, ViewCounters> = {};
  private readonly ifIndex = new Map<string, number>();
  private readonly snaplen: number;
  private scratch = new Uint8Array(64 * 1024);
  private readonly comments = new Map<string, Uint8Array>();
  readonly header: Uint8Array;
  private sink: CaptureSink | undefined;
  /**
   * The last frame written out of each view (compared by identity, never read). A guest's
   * broadcast is reported as a local delivery to each other guest and as a transmission; it
   * left the guest once, so the sender's view shows it once.
   */
  private readonly lastOut = new Map<string, Uint8Array>();

  constructor(private readonly opts: CaptureOptions) {
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    const all = [WIRE_VIEW, ...opts.guests];
    const wanted = opts.format === 'pcap' ? [WIRE_VIEW] : (opts.views ?? all);
    for (const v of wanted) if (!all.includes(v)) throw new Error(`unknown capture view ${JSON.stringify(v)} (known: ${all.join(', ')})`);
    const views = all.filter((v) => wanted.includes(v));
    views.forEach((v, i) => {
      this.ifIndex.set(v, i);
      this.counters[v] = { in: 0, out: 0 };
    });
    this.header =
      opts.format === 'pcap'
        ? pcapGlobalHeader(opts.precision ?? 'us', this.snaplen)
        : pcapngHeader(views.map((v) => ({ name: v, description: v === WIRE_VIEW ? `the NIC's cable${opts.wireDescription ? ` (${opts.wireDescription})` : ''}` : `guest ${v}: what it received and sent`, snaplen: this.snaplen })));
  }

  /** The views written, in interface order. */
  get views(): string[] {
    return [...this.ifIndex.keys()];
  }

  /** Start writing into `sink` (which has already written `header`). */
  attach(sink: CaptureSink): void {
    this.sink = sink;
  }

  /** One frame and what the nanokernel decided about it. */
  record(frame: Uint8Array, d: Decision): void {
    if (!this.sink) return;
    switch (d.kind) {
      case 'rx':
        this.write(WIRE_VIEW, 'in', frame, d);
        for (const g of d.to) this.write(g, 'in', frame, d);
        return;
      case 'tx':
        this.write(d.from, 'out', frame, d);
        this.write(WIRE_VIEW, 'out', frame, d);
        return;
      case 'local':
        this.write(d.from, 'out', frame, d);
        this.write(d.to, 'in', frame, d);
        return;
      case 'drop':
        // On the way in or out of the guest named, or of the wire when none is (a frame from the
        // wire that no guest was given: unknown unicast, spoofed source, runt).
        this.write(d.port ?? WIRE_VIEW, d.side === 'rx' ? 'in' : 'out', frame, d);
        return;
    }
  }

  private write(view: string, dir: Direction, frame: Uint8Array, d: Decision): void {
    const i = this.ifIndex.get(view);
    if (i === undefined) return;
    if (dir === 'out') {
      if (this.lastOut.get(view) === frame && (d.kind === 'local' || d.kind === 'tx')) return;
      this.lastOut.set(view, frame);
    }
    const sink = this.sink!;
    const ts = this.opts.now();
    let n: number;
    if (this.opts.format === 'pcap') {
      this.ensure(PCAP_RECORD_HEADER_LEN + frame.length);
      n = writePcapRecord(this.scratch, 0, frame, ts, this.opts.precision ?? 'us', this.snaplen);
    } else {
      const comment = this.comment(d);
      this.ensure(enhancedPacketLen(frame.length, this.snaplen, comment));
      n = writeEnhancedPacket(this.scratch, 0, i, ts, frame, this.snaplen, dir, comment);
    }
    sink.write(this.scratch.subarray(0, n));
    this.counters[view]![dir]++;
  }

  private ensure(n: number): void {
    if (this.scratch.length < n) this.scratch = new Uint8Array(n);
  }

  /** Comments repeat (a few per guest), so each is encoded once. */
  private comment(d: Decision): Uint8Array {
    const text = decisionComment(d);
    let c = this.comments.get(text);
    if (!c) {
      c = new TextEncoder().encode(text);
      if (this.comments.size < 1024) this.comments.set(text, c);
    }
    return c;
  }
}
