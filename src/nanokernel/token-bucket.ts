// A per-guest transmit rate limit: tokens are bytes, refilled at rate/8 per second, capped at
// `burst`. Time comes from the caller.

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly bytesPerUs: number;

  constructor(readonly rateBps: number, readonly burstBytes: number, now: number) {
    if (!(rateBps > 0)) throw new RangeError(`rate must be positive, got ${rateBps}`);
    this.bytesPerUs = rateBps / 8 / 1e6;
    this.tokens = burstBytes;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.last) * this.bytesPerUs);
      this.last = now;
    }
  }

  /** True if `bytes` may be sent now. */
  allows(bytes: number, now: number): boolean {
    this.refill(now);
    return this.tokens >= bytes;
  }

  consume(bytes: number): void {
    this.tokens -= bytes;
  }

  /** The earliest time at which `bytes` may be sent. */
  readyAt(bytes: number, now: number): number {
    this.refill(now);
    return this.tokens >= bytes ? now : now + (bytes - this.tokens) / this.bytesPerUs;
  }
}
