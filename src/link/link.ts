// The one small interface of a NIC's cable. Implementations: tap (native addon), memory (tests).

/** Receives what a link delivers: frames in batches, errors as events. */
export interface LinkReceiver {
  /** A batch of whole Ethernet frames (no FCS). The link never reuses a delivered buffer. */
  onFrames(batch: readonly Uint8Array[]): void;
  /** A fault of the link (read error, device gone). The link may keep running after it. */
  onError(err: Error): void;
}

export interface LinkStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames the link could not hand to the OS (EAGAIN, ENOBUFS, closed). */
  txDropped: number;
  rxErrors: number;
  /** A link that outlives its device (host/reattach.ts): times the device went away, and came back. */
  linkLost?: number;
  linkReattached?: number;
  /** A link that joins TCP segments (TSO, link/tso.ts): super-segments written and the segments in them. */
  txTsoWrites?: number;
  txTsoSegments?: number;
}

export interface Link {
  readonly name: string;
  /** Largest frame payload (IP MTU); frames are at most mtu + 18 bytes with a VLAN tag. */
  readonly mtu: number;
  /**
   * Hand one frame to the wire. Returns false when the link dropped it (counted in stats). Between
   * hold() and flush() true may mean "taken to be written with others": if the OS then refuses
   * the write, the link counts the frames in its own txDropped (the caller has counted them sent).
   */
  send(frame: Uint8Array): boolean;
  /**
   * Optional batching around several send() calls (the NIC's drain): after hold(), the link may
   * keep frames it took to write them together, and flush() writes them. A link without these
   * writes each frame in send(). A wrapper that forwards send() forwards both, or neither.
   */
  hold?(): void;
  flush?(): void;
  /** Start delivering received frames to `rx`. Called once. */
  attach(rx: LinkReceiver): void;
  /** Stop receiving and release the device. Idempotent. */
  close(): void;
  readonly stats: LinkStats;
}

/** Count one send in a link's stats: taken (frames and bytes) or dropped. Returns `taken`. */
export function countSend(stats: LinkStats, frame: Uint8Array, taken: boolean): boolean {
  if (!taken) {
    stats.txDropped++;
    return false;
  }
  stats.txFrames++;
  stats.txBytes += frame.length;
  return true;
}

export function emptyLinkStats(): LinkStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDropped: 0, rxErrors: 0 };
}
