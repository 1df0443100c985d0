// Where capture bytes go: a file, or stdout (for `| wireshark -k -i -`). The writer hands over
// whole blocks (a pcap record, a pcapng block); the sink buffers them and writes whole blocks
// only, flushed FLUSH_MS after the first block the buffer took, when the buffer fills, and on close (which
// the CLI calls on SIGINT/SIGTERM). So a reader never sees half a block, even after SIGKILL.
// FLUSH_MS and not the next turn of the event loop: under a flood a turn is a few frames, and a
// write per turn (queued before the gpos's own turn, so its replies waited for the disk) is a
// syscall per few frames; one per FLUSH_MS is one per hundreds of frames, and a file read as it
// grows is at most FLUSH_MS behind.
//
// And it never blocks the processor. Two kinds of output, because they fail differently:
// - a pipe, FIFO or socket (a reader on the other end: `| wireshark -k -i -`) is written without
//   blocking through a libuv stream; what the reader has not taken yet is bounded
//   (`maxPendingBytes`), blocks beyond it are dropped and counted (`dropped`), and a reader that
//   goes away (EPIPE) ends the capture, every later block counted (`writeErrors`);
// - a regular file is written synchronously (a disk never stalls for long); a failed write (disk
//   full, file too large) truncates the file back to the last whole block, so the file always
//   ends on a block boundary, and that buffer's blocks and every later one are counted.
// The first error is reported once through `onError`.
import { Socket } from 'node:net';
import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';

const BUFFER_BYTES = 256 * 1024;
/** Longest a block waits in the buffer before it is written (unless the buffer fills first). */
export const FLUSH_MS = 2;
/** Bytes a stream reader may leave unread before blocks are dropped (about 3000 full frames). */
export const DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024;
/** How long close() waits for a stream reader to take the last bytes before giving up on it. */
const CLOSE_GRACE_MS = 1000;

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
  /** Blocks lost because a write failed (disk full, reader gone): those being written, and every later one. */
  writeErrors: number;
  /** Blocks dropped because the stream's reader was too slow (its bounded buffer was full). */
  dropped: number;
  /** Files opened (1 unless rotating). */
  files: number;
}

export const emptySinkCounters = (): SinkCounters => ({ blocks: 0, bytes: 0, flushes: 0, writeErrors: 0, dropped: 0, files: 0 });

export interface FileSinkOptions {
  /** Write each block at once instead of within FLUSH_MS (the live stream: Wireshark sees each frame as it happens). */
  flushEachBlock?: boolean;
  counters?: SinkCounters;
  /** Called once, with the first write error. */
  onError?: (err: Error) => void;
  /** Bound on the bytes a stream reader may leave unread. */
  maxPendingBytes?: number;
}

export class FileSink implements CaptureSink {
  readonly counters: SinkCounters;
  private readonly fd: number;
  private readonly ownsFd: boolean;
  /** The non-blocking stream for a pipe, FIFO or socket; undefined for a regular file (or a tty). */
  private readonly stream: Socket | undefined;
  private readonly maxPending: number;
  private readonly onError: ((err: Error) => void) | undefined;
  private buf = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  private bufBlocks = 0;
  private flushScheduled = false;
  private closed = false;
  private failed: Error | undefined;
  private readonly flushEachBlock: boolean;
  /** Bytes written to this file, header included (the offset after the last whole block). */
  size = 0;

  /** Open `path` ('-' for stdout) and write `header` (the pcap global header, or SHB + IDBs) at once. */
  constructor(readonly path: string, header: Uint8Array, opts: FileSinkOptions = {}) {
    this.counters = opts.counters ?? emptySinkCounters();
    this.flushEachBlock = opts.flushEachBlock ?? path === '-';
    this.maxPending = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.onError = opts.onError;
    if (path === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      // Without world access; O_NONBLOCK so that opening a FIFO nobody reads fails (ENXIO) instead of hanging.
      this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK, 0o600);
      this.ownsFd = true;
    }
    const st = fstatSync(this.fd);
    if (st.isFIFO() || st.isSocket()) {
      this.stream = new Socket({ fd: this.fd, readable: false, writable: true });
      this.stream.on('error', (e) => this.fail(e));
    }
    this.counters.files++;
    if (this.stream) this.stream.write(Buffer.from(header));
    else {
      let off = 0;
      while (off < header.length) off += writeSync(this.fd, header, off, header.length - off);
    }
    this.counters.bytes += header.length;
    this.size += header.length;
  }

  write(block: Uint8Array): void {
    if (this.closed) return;
    if (this.failed) {
      this.counters.writeErrors++;
      return;
    }
    if (this.stream && this.stream.writableLength + this.used + block.length > this.maxPending) {
      this.counters.dropped++;
      return;
    }
    if (this.used + block.length > this.buf.length) {
      this.flush();
      if (this.failed) {
        this.counters.writeErrors++;
        return;
      }
      if (block.length > this.buf.length) this.buf = new Uint8Array(block.length);
    }
    this.buf.set(block, this.used);
    this.used += block.length;
    this.bufBlocks++;
    if (this.flushEachBlock) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // unref: a pending flush alone never keeps the process up; close() writes the rest.
      setTimeout(this.flushLater, FLUSH_MS).unref();
    }
  }

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  flush(): void {
    if (this.used === 0 || this.failed) return;
    const bytes = this.buf.subarray(0, this.used);
    const blocks = this.bufBlocks;
    this.used = 0;
    this.bufBlocks = 0;
    if (this.stream) {
      // The stream keeps what it is given until the reader takes it: hand it a copy.
      this.stream.write(Buffer.from(bytes));
    } else {
      try {
        let off = 0;
        while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
      } catch (e) {
        // Part of the buffer may be on disk; cut the file back to the last whole block.
        try {
          ftruncateSync(this.fd, this.size);
        } catch {
          /* the file keeps its tail; nothing better to do */
        }
        this.counters.writeErrors += blocks;
        this.fail(e as Error);
        return;
      }
      this.size += bytes.length;
    }
    this.counters.blocks += blocks;
    this.counters.bytes += bytes.length;
    this.counters.flushes++;
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    this.onError?.(e);
  }

  get error(): Error | undefined {
    return this.failed;
  }

  /** Bytes written or buffered for this file. */
  get pendingSize(): number {
    return this.size + this.used;
  }

  /** Flush and close. A stream reader gets CLOSE_GRACE_MS to take the rest, then is cut off. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.stream) {
      const s = this.stream;
      s.end();
      // unref: the timer alone never keeps the process up; the socket does, until end or destroy.
      if (s.writableLength > 0) setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
    } else if (this.ownsFd) closeSync(this.fd);
  }
}

/** Wall-clock time in nanoseconds, with the monotonic clock's resolution. */
const originWallNs = BigInt(Date.now()) * 1_000_000n;
const originMonoNs = process.hrtime.bigint();
export function wallClockNs(): bigint {
  return originWallNs + (process.hrtime.bigint() - originMonoNs);
}
