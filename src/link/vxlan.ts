// link/vxlan: the NIC's cable as Ethernet in UDP (RFC 7348), the same bytes as the kernel's
// `ip link add ... type vxlan id N remote R dstport 4789`, so a machine joins a Linux bridge on
// another host, an Open vSwitch VXLAN port, or another nanoshare machine, with no privileges
// (one UDP socket). Like the kernel's vxlan device it keeps a forwarding database (FDB): which
// remote a MAC sits behind, learned from received frames, bounded and aged; frames to a MAC it
// does not know (and broadcast, multicast) go to every remote of the flood list.
// Every datagram is someone else's choice: short or flagless headers, other VNIs, runt or
// oversized inner frames are dropped, each with its own counter; nothing here throws on input.
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { isWireError, isMulticastMac, readMac, VxlanPacket, VxlanRepr, VXLAN_HEADER_LEN, VXLAN_PORT, type Mac } from '../wire/index.js';
import { emptyLinkStats, type Link, type LinkReceiver, type LinkStats } from './link.js';

/** An IPv4 address (dotted text) and a UDP port. */
export interface UdpEndpoint {
  addr: string;
  port: number;
}

export interface VxlanOptions {
  /** VXLAN Network Identifier (24 bits); datagrams of other VNIs are dropped. */
  vni: number;
  /** Where to listen (default 0.0.0.0:4789, as the kernel does). */
  local?: UdpEndpoint;
  /** The flood list: every remote gets broadcast, multicast and unknown-unicast frames. */
  remotes: readonly UdpEndpoint[];
  /** Inner IP MTU (default 1500); inner frames are at most mtu + 18 bytes. */
  mtu?: number;
  /** FDB size (default 4096 MACs; the least recently refreshed entry goes first). */
  fdbMax?: number;
  /** FDB ageing in ms (default 300 000, the kernel's `ageing 300`). */
  fdbAgeMs?: number;
  /** Frames received and not yet delivered (default 4096); more are dropped and counted. */
  rxQueueMax?: number;
  /** Milliseconds clock for ageing (tests inject one). */
  now?: () => number;
}

/** Link counters plus the VXLAN-specific drops and the FDB's. */
export interface VxlanLinkStats extends LinkStats {
  /** Datagrams too short for a VXLAN header, or without the I flag. */
  rxBadHeader: number;
  /** Datagrams for another VNI. */
  rxWrongVni: number;
  /** Inner frames shorter than an Ethernet header. */
  rxRunts: number;
  /** Inner frames longer than mtu + 18. */
  rxOversize: number;
  /** Dropped because the receive queue was full. */
  rxQueueFull: number;
  /** Received before `attach`, dropped. */
  rxUnattached: number;
  /** Frames sent to every remote of the flood list (each remote counted in txDatagrams). */
  txFlooded: number;
  /** Frames sent to the one remote the FDB named. */
  txUnicast: number;
  /** UDP datagrams handed to the socket. */
  txDatagrams: number;
  /** Entries learned or moved to another remote. */
  fdbLearned: number;
  /** Entries dropped to make room or because they aged out. */
  fdbEvicted: number;
}

export class VxlanError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'VxlanError';
  }
}

const ETHERNET_HEADER_LEN = 14;
const FRAME_OVERHEAD = 18;
const SRC_MAC_OFFSET = 6;

interface FdbEntry {
  remote: UdpEndpoint;
  seenAt: number;
}

/**
 * Which remote each MAC sits behind. A Map in insertion order: a refresh re-inserts, so the first
 * key is the least recently refreshed, evicted when full. Lookups drop aged entries.
 */
export class VxlanFdb {
  private readonly map = new Map<Mac, FdbEntry>();
  learned = 0;
  evicted = 0;

  constructor(private readonly max: number, private readonly ageMs: number) {}

  get size(): number {
    return this.map.size;
  }

  learn(mac: Mac, remote: UdpEndpoint, now: number): void {
    const e = this.map.get(mac);
    if (e && e.remote.addr === remote.addr && e.remote.port === remote.port) {
      // Refresh at most once a second: re-inserting on every frame would cost a Map delete+set.
      if (now - e.seenAt >= 1000) {
        this.map.delete(mac);
        e.seenAt = now;
        this.map.set(mac, e);
      }
      return;
    }
    if (e) this.map.delete(mac);
    else if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value as Mac;
      this.map.delete(oldest);
      this.evicted++;
    }
    this.map.set(mac, { remote, seenAt: now });
    this.learned++;
  }

  lookup(mac: Mac, now: number): UdpEndpoint | undefined {
    const e = this.map.get(mac);
    if (!e) return undefined;
    if (now - e.seenAt > this.ageMs) {
      this.map.delete(mac);
      this.evicted++;
      return undefined;
    }
    return e.remote;
  }

  /** [mac, remote] of every live entry (for stats and tests). */
  entries(now: number): Array<[Mac, UdpEndpoint]> {
    return [...this.map].filter(([, e]) => now - e.seenAt <= this.ageMs).map(([m, e]) => [m, e.remote]);
  }
}

/** The part of a dgram socket the link uses (tests give a fake one). */
export interface UdpSocketLike {
  send(msg: Uint8Array, port: number, address: string, callback: (err: Error | null) => void): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): void;
}

function checkEndpoint(e: UdpEndpoint, field: string): void {
  if (!isIPv4(e.addr)) throw new VxlanError(field, `${field}: expected an IPv4 address, got ${JSON.stringify(e.addr)}`);
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new VxlanError(field, `${field}: port must be 1 to 65535, got ${e.port}`);
}

/** A Link over one UDP socket carrying VXLAN. */
export class VxlanLink implements Link {
  readonly name: string;
  readonly mtu: number;
  readonly stats: VxlanLinkStats = {
    ...emptyLinkStats(),
    rxBadHeader: 0, rxWrongVni: 0, rxRunts: 0, rxOversize: 0, rxQueueFull: 0, rxUnattached: 0,
    txFlooded: 0, txUnicast: 0, txDatagrams: 0, fdbLearned: 0, fdbEvicted: 0,
  };
  readonly fdb: VxlanFdb;
  private readonly vni: number;
  private readonly remotes: readonly UdpEndpoint[];
  /** Flood-list port by remote address, for learned entries. */
  private readonly portOf: Map<string, number>;
  /** Port to reach a learned remote that is not in the flood list (the kernel's dstport). */
  private readonly defaultPort: number;
  private readonly header = new Uint8Array(VXLAN_HEADER_LEN);
  private readonly now: () => number;
  private readonly rxQueueMax: number;
  private rx: LinkReceiver | undefined;
  private pending: Uint8Array[] = [];
  private deliveryScheduled = false;
  private closed = false;

  /** Over a given socket, already bound (tests; `open` makes the real one). */
  constructor(private readonly socket: UdpSocketLike, opts: VxlanOptions) {
    if (!Number.isInteger(opts.vni) || opts.vni < 0 || opts.vni > 0xffffff) throw new VxlanError('vni', `vni: expected 0 to 16777215, got ${opts.vni}`);
    opts.remotes.forEach((r, i) => checkEndpoint(r, `remotes[${i}]`));
    this.vni = opts.vni;
    this.remotes = opts.remotes.map((r) => ({ ...r }));
    this.portOf = new Map(this.remotes.map((r) => [r.addr, r.port]));
    this.defaultPort = this.remotes[0]?.port ?? VXLAN_PORT;
    this.mtu = opts.mtu ?? 1500;
    this.name = `vxlan${opts.vni}`;
    this.fdb = new VxlanFdb(opts.fdbMax ?? 4096, opts.fdbAgeMs ?? 300_000);
    this.rxQueueMax = opts.rxQueueMax ?? 4096;
    this.now = opts.now ?? (() => performance.now());
    new VxlanRepr(opts.vni).emit(this.header);
    socket.on('message', (msg, rinfo) => this.processDatagram(msg, rinfo));
    socket.on('error', (err) => {
      this.stats.rxErrors++;
      this.rx?.onError(err);
    });
  }

  /** Bind a UDP socket on `local` (default 0.0.0.0:4789) and make the link. Rejects with VxlanError. */
  static async open(opts: VxlanOptions): Promise<VxlanLink> {
    const local = opts.local ?? { addr: '0.0.0.0', port: VXLAN_PORT };
    checkEndpoint(local, 'local');
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new VxlanError('local', `local ${local.addr}:${local.port}: cannot bind: ${err.message}`)));
      socket.bind(local.port, local.addr, () => resolve());
    });
    socket.removeAllListeners('error');
    return new VxlanLink(socket, opts);
  }

  send(frame: Uint8Array): boolean {
    if (this.closed || frame.length < ETHERNET_HEADER_LEN || frame.length > this.mtu + FRAME_OVERHEAD) {
      this.stats.txDropped++;
      return false;
    }
    const dst = readMac(frame, 0);
    const known = isMulticastMac(dst) ? undefined : this.fdb.lookup(dst, this.now());
    this.syncFdbStats();
    const targets = known ? [known] : this.remotes;
    if (targets.length === 0) {
      this.stats.txDropped++;
      return false;
    }
    const datagram = new Uint8Array(VXLAN_HEADER_LEN + frame.length);
    datagram.set(this.header, 0);
    datagram.set(frame, VXLAN_HEADER_LEN);
    for (const t of targets) {
      this.stats.txDatagrams++;
      this.socket.send(datagram, t.port, t.addr, (err) => {
        if (err) {
          this.stats.txDropped++;
          this.rx?.onError(err);
        }
      });
    }
    if (known) this.stats.txUnicast++;
    else this.stats.txFlooded++;
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    return true;
  }

  attach(rx: LinkReceiver): void {
    if (this.rx) throw new VxlanError('attach', `${this.name}: attach called twice`);
    this.rx = rx;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    try {
      this.socket.close();
    } catch {
      // Already closed by its owner: nothing left to release.
    }
  }

  /** Check one datagram, learn its source, queue its inner frame (delivered in one batch per turn). */
  private processDatagram(msg: Uint8Array, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const p = VxlanPacket.checked(msg);
    if (isWireError(p)) {
      this.stats.rxBadHeader++;
      return;
    }
    if (p.vni() !== this.vni) {
      this.stats.rxWrongVni++;
      return;
    }
    const frame = p.payload();
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.stats.rxRunts++;
      return;
    }
    if (frame.length > this.mtu + FRAME_OVERHEAD) {
      this.stats.rxOversize++;
      return;
    }
    if (!this.rx) {
      this.stats.rxUnattached++;
      return;
    }
    if (this.pending.length >= this.rxQueueMax) {
      this.stats.rxQueueFull++;
      return;
    }
    const src = readMac(frame, SRC_MAC_OFFSET);
    if (!isMulticastMac(src) && src !== 0) {
      // Kernel peers send from a per-flow source port; they listen on the dstport.
      this.fdb.learn(src, { addr: rinfo.address, port: this.portOf.get(rinfo.address) ?? this.defaultPort }, this.now());
      this.syncFdbStats();
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += frame.length;
    this.pending.push(frame);
    if (!this.deliveryScheduled) {
      this.deliveryScheduled = true;
      setImmediate(() => this.deliverPending());
    }
  }

  private syncFdbStats(): void {
    this.stats.fdbLearned = this.fdb.learned;
    this.stats.fdbEvicted = this.fdb.evicted;
  }

  private deliverPending(): void {
    this.deliveryScheduled = false;
    if (this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.rx!.onFrames(batch);
  }
}
