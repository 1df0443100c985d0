// Where capture bytes go: a file, or stdout (for `| wireshark -k -i -`). The writer hands over
// whole blocks (a pcap record, a pcapng block); the sink buffers them and writes whole blocks
// only, flushed on the next turn of the event loop, when the buffer fills, and on close (which
// the CLI calls on SIGINT/SIGTERM). So a reader never sees half a block, even after SIGKILL.
import { closeSync, openSync, writeSync } from 'node:fs';

const BUFFER_BYTES = 256 * 1024;

/** What a capture writer writes to: whole blocks, never split. */
export interface CaptureSink {
  /** Append one whole block (copied: the caller may reuse its buffer). */
  write(block: Uint8Array): void;
  /** Write what is buffered. */
  flush(): void;
  close(): void;
  readonly counters: SinkCounters;
  /** The write error that stopped the capture, if any. */
  readonly error: Error | undefined;
}

export interface SinkCounters {
  blocks: number;
  bytes: number;
  flushes: number;
  /** Blocks lost because a write failed (disk full, reader gone). */
  writeErrors: number;
  /** Files opened (1 unless rotating). */
  files: number;
}

export const emptySinkCounters = (): SinkCounters => ({ blocks: 0, bytes: 0, flushes: 0, writeErrors: 0, files: 0 });

export interface FileSinkOptions {
  /** Write each block at once instead of on the next turn (the live stream: Wireshark sees each frame as it happens). */
  flushEachBlock?: boolean;
  counters?: SinkCounters;
}

export class FileSink implements CaptureSink {
  readonly counters: SinkCounters;
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private buf = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  private flushScheduled = false;
  private closed = false;
  private failed: Error | undefined;
  private readonly flushEachBlock: boolean;
  /** Bytes written to this file, header included. */
  size = 0;

  /** Open `path` ('-' for stdout) and write `header` (the pcap global header, or SHB + IDBs) at once. */
  constructor(readonly path: string, header: Uint8Array, opts: FileSinkOptions = {}) {
    this.counters = opts.counters ?? emptySinkCounters();
    this.flushEachBlock = opts.flushEachBlock ?? path === '-';
    if (path === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      this.fd = openSync(path, 'w', 0o644);
      this.ownsFd = true;
    }
    this.counters.files++;
    this.writeAll(header);
  }

  write(block: Uint8Array): void {
    if (this.closed || this.failed) return;
    if (this.used + block.length > this.buf.length) {
      this.flush();
      if (block.length > this.buf.length) this.buf = new Uint8Array(block.length);
    }
    this.buf.set(block, this.used);
    this.used += block.length;
    this.counters.blocks++;
    if (this.flushEachBlock) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.used === 0 || this.failed) return;
    this.writeAll(this.buf.subarray(0, this.used));
    this.used = 0;
    this.counters.flushes++;
  }

  private writeAll(bytes: Uint8Array): void {
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
      this.counters.bytes += bytes.length;
      this.size += bytes.length;
    } catch (e) {
      this.failed = e as Error;
      this.counters.writeErrors++;
    }
  }

  get error(): Error | undefined {
    return this.failed;
  }

  /** Bytes written or buffered for this file. */
  get pendingSize(): number {
    return this.size + this.used;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.ownsFd) closeSync(this.fd);
  }
}

/** Wall-clock time in nanoseconds, with the monotonic clock's resolution. */
const originWallNs = BigInt(Date.now()) * 1_000_000n;
const originMonoNs = process.hrtime.bigint();
export function wallClockNs(): bigint {
  return originWallNs + (process.hrtime.bigint() - originMonoNs);
}
