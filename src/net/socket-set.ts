// The socket set (smoltcp's SocketSet), separate from the interface: each protocol keeps its
// own state object here (UDP's port table, ICMP's echo handler and error bucket, ARP's timers;
// TCP's connections, DHCP's lease, ICMPv6/NDP's caches as they arrive), found by a typed key.
// The interface itself holds only what every protocol shares (config, device, clock, counters).
// poll()/pollAt() run over every state that has timers, so a new protocol's timers are polled
// without touching the core.

/** What the socket set asks of a protocol's state: its timers (a state without any says so). */
export interface ProtocolState {
  /** When poll() next has work for this protocol (monotonic µs), or undefined if nothing is scheduled. */
  pollAt(): number | undefined;
  /** Run this protocol's due timers. */
  poll(now: number): void;
  /**
   * Optional: a batch of received frames begins (true) or ends (false). A protocol may hold
   * back what it would answer to each frame until the batch ends (TCP sends one ACK for the
   * segments of a batch, as a receiver behind GRO does) and must send it when the batch ends.
   */
  batch?(open: boolean): void;
}

/** A typed name for one protocol's state: `new SocketKey<UdpSockets>('udp')`. */
export class SocketKey<T extends ProtocolState> {
  /** Never set: it carries T so that get() returns the state's own type. */
  declare readonly _state?: T;
  constructor(readonly name: string) {}
}

/** Every protocol's state on one interface, each registered once under its key. */
export class SocketSet {
  private readonly states = new Map<string, ProtocolState>();
  /** The same states in registration order, for the per-unit walks (no iterator object per walk). */
  private readonly list: ProtocolState[] = [];

  /** Register `state` under `key`; throws if the key is taken (a protocol installed twice: a caller's bug). */
  add<T extends ProtocolState>(key: SocketKey<T>, state: T): T {
    if (this.states.has(key.name)) throw new Error(`socket set: ${key.name} already registered`);
    this.states.set(key.name, state);
    this.list.push(state);
    return state;
  }

  /** The state under `key`, or undefined if that protocol is not installed. */
  get<T extends ProtocolState>(key: SocketKey<T>): T | undefined {
    return this.states.get(key.name) as T | undefined;
  }

  /** The state under `key`; throws if that protocol is not installed (a caller's bug). */
  require<T extends ProtocolState>(key: SocketKey<T>): T {
    const s = this.get(key);
    if (s === undefined) throw new Error(`socket set: ${key.name} not installed`);
    return s;
  }

  /** Names of the registered states, in registration order. */
  names(): string[] {
    return [...this.states.keys()];
  }

  /** The earliest pollAt() of any state, or undefined if none has a timer scheduled. */
  pollAt(): number | undefined {
    let at: number | undefined;
    for (let i = 0; i < this.list.length; i++) {
      const t = this.list[i]!.pollAt();
      if (t !== undefined && (at === undefined || t < at)) at = t;
    }
    return at;
  }

  /** Tell every state that takes batches that a batch of received frames begins or ends. */
  batch(open: boolean): void {
    for (let i = 0; i < this.list.length; i++) this.list[i]!.batch?.(open);
  }

  /** Run every state's due timers, in registration order. */
  poll(now: number): void {
    for (let i = 0; i < this.list.length; i++) this.list[i]!.poll(now);
  }
}
