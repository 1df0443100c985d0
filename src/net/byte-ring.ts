// A bounded byte FIFO over one circular buffer: TCP's send buffer (bytes from SND.UNA on, kept
// until acknowledged) and receive buffer (in-order bytes the application has not taken yet).
// The storage is allocated on first write, so an idle connection costs no buffer.

export class ByteRing {
  private buf: Uint8Array | undefined;
  private head = 0;
  private len = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ByteRing capacity ${capacity}`);
  }

  get length(): number {
    return this.len;
  }

  get free(): number {
    return this.capacity - this.len;
  }

  /** Append as much of `src` as fits; returns the number of bytes taken. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.capacity - this.len);
    if (n === 0) return 0;
    const buf = (this.buf ??= new Uint8Array(this.capacity));
    const tail = (this.head + this.len) % this.capacity;
    const first = Math.min(n, this.capacity - tail);
    buf.set(src.subarray(0, first), tail);
    if (first < n) buf.set(src.subarray(first, n), 0);
    this.len += n;
    return n;
  }

  /** Copy `len` bytes starting `offset` bytes after the head into `dst` at `dstOff` (caller checked bounds). */
  copyOut(offset: number, len: number, dst: Uint8Array, dstOff: number): void {
    if (offset < 0 || len < 0 || offset + len > this.len) throw new RangeError(`ByteRing copyOut ${offset}+${len} of ${this.len}`);
    if (len === 0) return;
    const buf = this.buf!;
    const start = (this.head + offset) % this.capacity;
    const first = Math.min(len, this.capacity - start);
    dst.set(buf.subarray(start, start + first), dstOff);
    if (first < len) dst.set(buf.subarray(0, len - first), dstOff + first);
  }

  /** The first contiguous run of at most `max` bytes at the head, as a view (not consumed). */
  peekContiguous(max: number): Uint8Array {
    if (this.len === 0 || this.buf === undefined) return new Uint8Array(0);
    const n = Math.min(max, this.len, this.capacity - this.head);
    return this.buf.subarray(this.head, this.head + n);
  }

  /** Drop `n` bytes from the head. */
  consume(n: number): void {
    if (n < 0 || n > this.len) throw new RangeError(`ByteRing consume ${n} of ${this.len}`);
    this.head = (this.head + n) % this.capacity;
    this.len -= n;
    if (this.len === 0) this.head = 0;
  }
}
