// link/tap: the NIC's cable as a Linux TAP device, through the native addon in native/.
// Receives in batches from the main event loop (the addon polls the fd with libuv and reads up to
// 64 frames per callback), writes synchronously and never blocks. Frames received before
// `attach` are dropped and counted (`rxUnattached`): a link without a receiver has nowhere to put them.
//
// Receive memory: the addon reads each frame straight into a 64 KiB receive buffer this link owns
// (one backing store per ~600 small frames, not one per batch or per frame), at an offset kept in
// a Uint32Array both sides see, and reports only the count; the lengths are in another shared
// Uint32Array. A delivered frame is a view of that buffer, and its bytes are never written again:
// the offset only moves forward, and a full buffer is replaced by a new one, never reused. So the
// Link contract (a delivered buffer is never reused) holds with no copy; a frame kept for long
// keeps its 64 KiB buffer alive, which is why a guest that holds a frame past its unit copies it.
//
// Transmit: with TSO (the default), the TAP carries virtio-net headers and the segments of one TCP
// flow sent between hold() and flush() are written as one super-segment (link/tso.ts); anything
// else is written as it comes, in order.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { countSend, emptyLinkStats, type Link, type LinkReceiver, type LinkStats } from './link.js';
import { TSO_HEAD_MAX, TSO_MAX_SEGMENTS, tsoContinues, tsoHead, tsoHeaderLen } from './tso.js';

/** The addon's Tap object (native/tap.cc). */
export interface NativeTap {
  readonly name: string;
  /** Whether frames carry a virtio-net header (opened with vnetHdr): writeGso works. */
  readonly vnetHdr?: boolean;
  /** Where the next frames are read, from byte rxState[0] on. */
  setRxBuffer(buf: Uint8Array): void;
  /** false when the kernel did not take the frame (EAGAIN, ENOBUFS, interface down, closed). */
  write(frame: Uint8Array): boolean;
  /** Writes in order, stops at the first frame not taken; returns how many were written. */
  writeBatch(frames: readonly Uint8Array[]): number;
  /**
   * One TCP super-segment the kernel cuts at gsoSize (link/tso.ts), with one writev: head[0..hdrLen),
   * then each of segments[0..count) past its first hdrLen bytes. Needs vnetHdr. false: not taken.
   */
  writeGso?(head: Uint8Array, hdrLen: number, segments: readonly Uint8Array[], count: number, gsoSize: number): boolean;
  close(): void;
}

/** The addon's HrTimer object (native/tap.cc). */
export interface NativeHrTimer {
  arm(deadlineNs: bigint): void;
  /** Absolute CLOCK_MONOTONIC microseconds. */
  armUs(deadlineUs: number): void;
  disarm(): void;
  close(): void;
}

/** What `nanoshare_tap.node` exports. */
export interface NativeAddon {
  /**
   * Opens TAP `name`. `onFrames(count)`: `count` frames were read into the receive buffer from
   * byte rxState[0] on, each at an 8-byte aligned offset after the previous one, their lengths in
   * rxLengths[0..count). A read takes at most `readMax` bytes (a longer frame is cut to it).
   * `vnetHdr`: open with IFF_VNET_HDR, for writeGso (refused on big-endian hosts: see `vnetHdr`).
   */
  Tap: new (
    name: string,
    onFrames: (count: number) => void,
    onError: (err: Error) => void,
    rxLengths: Uint32Array,
    rxState: Uint32Array,
    readMax: number,
    vnetHdr?: boolean,
  ) => NativeTap;
  HrTimer: new (callback: () => void) => NativeHrTimer;
}

/** Where the build puts the addon: <repo>/native/build/Release, from src/link/ and from dist/link/ alike. */
export const addonPath = fileURLToPath(new URL('../../native/build/Release/nanoshare_tap.node', import.meta.url));

/** A TAP or addon failure with a stable `code` the CLI maps to exit statuses and one-line messages. */
export class TapError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TapError';
    this.code = code;
  }

  /** Wrap an error thrown or reported by the addon, keeping its code (ENOTUN, EPERM, EBUSY, ...). */
  static from(err: unknown): TapError {
    if (err instanceof TapError) return err;
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    return new TapError(typeof code === 'string' ? code : 'EUNKNOWN', e.message, { cause: e });
  }
}

let cachedAddon: NativeAddon | undefined;

/** Load the native addon (cached for the default path); throws TapError ENOADDON when it is missing or unloadable. */
export function loadNativeAddon(path: string = addonPath): NativeAddon {
  if (path === addonPath && cachedAddon) return cachedAddon;
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const missing = code === 'MODULE_NOT_FOUND' || code === 'ENOENT';
    const why = missing ? `the TAP addon is not built (${path})` : `the TAP addon failed to load (${(err as Error).message.split('\n')[0]})`;
    throw new TapError('ENOADDON', `${why}: run \`npm run build:native\` (needs python3, make, g++)`, { cause: err });
  }
  if (path === addonPath) cachedAddon = addon;
  return addon;
}

/** Link counters plus what only a TAP knows. */
export interface TapLinkStats extends LinkStats {
  /** Frames read before `attach`, dropped. */
  rxUnattached: number;
  /** onFrames callbacks from the addon (rxFrames / rxBatches is the mean batch size). */
  rxBatches: number;
  /** TSO: super-segments written, and the segments they carried (also counted in txFrames). */
  txTsoWrites: number;
  txTsoSegments: number;
}

export interface TapOptions {
  mtu?: number;
  /** Join TCP segments into super-segments the kernel cuts (default true; link/tso.ts). */
  tso?: boolean;
}

/** Most frames the addon reads per callback (kMaxBatch in native/tap.cc). */
export const TAP_MAX_BATCH = 64;
/** Size of one receive buffer, unless four of the largest frames need more. */
const RX_BUFFER_BYTES = 64 * 1024;

/** Ethernet header (14) plus one 802.1Q tag (4): a frame is at most mtu + this many bytes. */
const FRAME_OVERHEAD = 18;
const ETHERNET_HEADER_LEN = 14;
const DEFAULT_MTU = 1500;
/** RFC 791's minimum and the largest frame a TAP read can return. */
const MIN_MTU = 68;
const MAX_MTU = 65535;

const EMPTY = new Uint8Array(0);
/** What a kernel says when it will not take a super-segment (virtio_net_hdr_to_skb, tun_get_user). */
const TSO_REFUSED = new Set(['EINVAL', 'EOPNOTSUPP', 'EMSGSIZE', 'EPROTO']);

/** A Link over a Linux TAP device. */
export class TapLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly stats: TapLinkStats = { ...emptyLinkStats(), rxUnattached: 0, rxBatches: 0, txTsoWrites: 0, txTsoSegments: 0 };
  /**
   * Whether segments are joined: TSO asked for, the addon opened the TAP with virtio-net headers,
   * and the kernel has not refused a super-segment as malformed (then frames go one by one).
   */
  get tso(): boolean {
    return this.tsoOn;
  }
  private tsoOn: boolean;
  private readonly tap: NativeTap;
  private rx: LinkReceiver | undefined;
  private closed = false;
  /** Lengths of the frames of one callback, written by the addon. */
  private readonly rxLengths = new Uint32Array(TAP_MAX_BATCH);
  /** [0]: byte offset in rxBuffer where the addon reads the next frame. */
  private readonly rxState = new Uint32Array(1);
  /** Bytes the addon reads at most per frame: one more than the largest frame, so a longer one shows as oversize. */
  private readonly readMax: number;
  private readonly rxBufferBytes: number;
  private rxBuffer: Uint8Array;
  /** Receive buffers replaced because they were full (each is freed once its last frame is). */
  rxBuffers = 1;
  /** Between hold() and flush(): TCP segments may wait to be joined. */
  private holding = false;
  /** The segments held for one super-segment, their count, header length and payload bytes. */
  private readonly held: Uint8Array[] = new Array<Uint8Array>(TSO_MAX_SEGMENTS).fill(EMPTY);
  private heldCount = 0;
  private heldHdrLen = 0;
  private heldPayload = 0;
  /** The headers of a super-segment (link/tso.ts tsoHead). */
  private readonly gsoHead = new Uint8Array(TSO_HEAD_MAX);

  private constructor(addon: NativeAddon, name: string, mtu: number, tso: boolean) {
    this.mtu = mtu;
    this.readMax = mtu + FRAME_OVERHEAD + 1;
    this.rxBufferBytes = Math.max(RX_BUFFER_BYTES, 4 * this.readMax);
    this.rxBuffer = new Uint8Array(this.rxBufferBytes);
    try {
      this.tap = new addon.Tap(
        name,
        (count) => this.processFrames(count),
        (err) => this.processError(err),
        this.rxLengths,
        this.rxState,
        this.readMax,
        tso,
      );
      this.tap.setRxBuffer(this.rxBuffer);
    } catch (err) {
      throw TapError.from(err);
    }
    this.name = this.tap.name;
    this.tsoOn = tso && this.tap.vnetHdr === true && typeof this.tap.writeGso === 'function';
  }

  /** Create (or attach to) TAP `name`; the kernel picks a name for `tap%d`. Throws TapError. */
  static open(name: string, opts: TapOptions = {}): TapLink {
    return TapLink.withAddon(loadNativeAddon(), name, opts);
  }

  /** `open` over a given addon object (tests use a fake one; no privileges needed). */
  static withAddon(addon: NativeAddon, name: string, opts: TapOptions = {}): TapLink {
    const mtu = opts.mtu ?? DEFAULT_MTU;
    if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
      throw new TapError('EINVAL', `TAP ${name}: mtu ${mtu} is out of range (${MIN_MTU}..${MAX_MTU})`);
    }
    return new TapLink(addon, name, mtu, opts.tso ?? true);
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || frame.length < ETHERNET_HEADER_LEN || frame.length > this.mtu + FRAME_OVERHEAD) {
      this.stats.txDropped++;
      return false;
    }
    if (this.holding) {
      const hdrLen = tsoHeaderLen(frame);
      const n = this.heldCount;
      if (n > 0) {
        if (hdrLen > 0 && n < TSO_MAX_SEGMENTS && tsoContinues(this.held[0]!, this.held[n - 1]!, this.heldPayload, frame, hdrLen)) {
          return this.holdSegment(frame, hdrLen);
        }
        this.writeHeld(); // order on the wire is the order of send()
      }
      // writeHeld may have turned TSO off or (through an error event) closed the link: then this
      // frame is written now, behind the ones just written, never held past later frames.
      if (hdrLen > 0 && this.holding) return this.holdSegment(frame, hdrLen);
    }
    return this.write(frame);
  }

  /** Until flush(), TCP segments may be held to be joined (the NIC calls this around a drain). */
  hold(): void {
    this.holding = this.tsoOn && !this.closed;
  }

  /** Write what is held, and write each frame as it comes again. */
  flush(): void {
    this.holding = false;
    if (this.heldCount > 0) this.writeHeld();
  }

  private holdSegment(frame: Uint8Array, hdrLen: number): boolean {
    this.held[this.heldCount++] = frame;
    this.heldHdrLen = hdrLen;
    this.heldPayload += frame.length - hdrLen;
    return countSend(this.stats, frame, true);
  }

  /** The held segments: one alone as it is, more as one super-segment. Counted as sent when held. */
  private writeHeld(): void {
    const n = this.heldCount;
    const held = this.held;
    this.heldCount = 0;
    const payload = this.heldPayload;
    this.heldPayload = 0;
    if (n === 1) {
      const frame = held[0]!;
      held[0] = EMPTY;
      if (!this.writeNative(frame)) this.unsend(frame.length, 1);
      return;
    }
    const hdrLen = this.heldHdrLen;
    tsoHead(held, n, hdrLen, payload, this.gsoHead);
    let ok: boolean;
    try {
      ok = this.tap.writeGso!(this.gsoHead, hdrLen, held, n, held[0]!.length - hdrLen);
    } catch (err) {
      const e = TapError.from(err);
      if (!TSO_REFUSED.has(e.code)) {
        // The device failed (gone, out of memory): what any write would meet. Reported as it
        // is (a reattaching link acts on it), the segments counted as dropped, TSO kept.
        for (let i = 0; i < n; i++) held[i] = EMPTY;
        this.unsend(n * hdrLen + payload, n);
        this.rx?.onError(e);
        return;
      }
      // The kernel refused the super-segment itself (an older or stricter virtio_net_hdr
      // check). Say so once, stop joining, and send these segments one by one, so the flow
      // does not stall retransmitting what is refused.
      this.tsoOn = false;
      this.holding = false;
      this.rx?.onError(new TapError('ETSO', `TAP ${this.name}: the kernel refused a TSO super-segment (${(err as Error).message}); writing frame by frame`, { cause: err }));
      for (let i = 0; i < n; i++) {
        const f = held[i]!;
        held[i] = EMPTY;
        if (!this.writeNative(f)) this.unsend(f.length, 1);
      }
      return;
    }
    for (let i = 0; i < n; i++) held[i] = EMPTY; // hold no guest's buffer past its write
    if (ok) {
      this.stats.txTsoWrites++;
      this.stats.txTsoSegments += n;
    } else {
      this.unsend(n * hdrLen + payload, n);
    }
  }

  /** Segments counted as sent when held that the kernel did not take. */
  private unsend(bytes: number, frames: number): void {
    this.stats.txFrames -= frames;
    this.stats.txBytes -= bytes;
    this.stats.txDropped += frames;
  }

  private writeNative(frame: Uint8Array): boolean {
    try {
      return this.tap.write(frame);
    } catch (err) {
      this.rx?.onError(TapError.from(err));
      return false;
    }
  }

  private write(frame: Uint8Array): boolean {
    return countSend(this.stats, frame, this.writeNative(frame));
  }

  attach(rx: LinkReceiver): void {
    if (this.rx) throw new TapError('EALREADY', `TAP ${this.name}: attach called twice`);
    this.rx = rx;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.tap.close();
  }

  private processFrames(count: number): void {
    this.stats.rxBatches++;
    const buf = this.rxBuffer;
    const lengths = this.rxLengths;
    let off = this.rxState[0]!;
    const frames = new Array<Uint8Array>(count);
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      frames[i] = buf.subarray(off, off + len);
      bytes += len;
      off += (len + 7) & ~7;
    }
    // Past everything delivered, before anyone runs: these bytes now belong to the receiver.
    if (this.rxBufferBytes - off < this.readMax) {
      this.rxBuffer = new Uint8Array(this.rxBufferBytes);
      this.rxBuffers++;
      this.tap.setRxBuffer(this.rxBuffer);
      off = 0;
    }
    this.rxState[0] = off;
    const rx = this.rx;
    if (!rx) {
      this.stats.rxUnattached += count;
      return;
    }
    this.stats.rxFrames += count;
    this.stats.rxBytes += bytes;
    rx.onFrames(frames);
  }

  private processError(err: Error): void {
    this.stats.rxErrors++;
    this.rx?.onError(TapError.from(err));
  }
}
