// Parse failures are values, not exceptions: a parser hands back a WireError naming the
// protocol, a reason a counter can be keyed on, and the byte where the problem was seen.

/** The protocols whose parsers can report an error. */
export type WireProtocol = 'ethernet' | 'arp' | 'ipv4' | 'icmpv4' | 'udp' | 'tcp' | 'vxlan' | 'ipv6' | 'icmpv6' | 'dhcp';

/** Why a parser refused the bytes; stable, suitable as a drop-counter key. */
export type WireErrorReason =
  | 'truncated'
  | 'bad-version'
  | 'bad-header-len'
  | 'bad-total-len'
  | 'bad-length'
  | 'bad-checksum'
  | 'bad-option'
  | 'unsupported';

const REASON_TEXT: Readonly<Record<WireErrorReason, string>> = {
  truncated: 'truncated',
  'bad-version': 'bad version',
  'bad-header-len': 'bad header length',
  'bad-total-len': 'bad total length',
  'bad-length': 'bad length',
  'bad-checksum': 'bad checksum',
  'bad-option': 'bad option',
  unsupported: 'unsupported',
};

/** A malformed or unsupported packet: protocol, reason, offending byte offset, optional field detail. */
export class WireError {
  constructor(
    readonly protocol: WireProtocol,
    readonly reason: WireErrorReason,
    readonly offset: number,
    readonly detail?: string,
  ) {}

  /** One line, e.g. "ipv4: bad header checksum (byte 10)". */
  get message(): string {
    return `${this.protocol}: ${this.detail ?? REASON_TEXT[this.reason]} (byte ${this.offset})`;
  }

  toString(): string {
    return this.message;
  }
}

/** True if `x` is a WireError (the failure branch of every `checked()`). */
export function isWireError(x: unknown): x is WireError {
  return x instanceof WireError;
}
