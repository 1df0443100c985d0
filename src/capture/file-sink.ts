// A pcap file (or stdout, for `| wireshark -k -i -`) that stays valid: records are buffered and
// written whole, flushed on the next turn of the event loop, when the buffer fills, and on
// close (which the CLI calls on SIGINT/SIGTERM). A reader never sees half a record.
import { closeSync, openSync, writeSync } from 'node:fs';
import { PCAP_RECORD_HEADER_LEN, PCAP_SNAPLEN, pcapGlobalHeader, writePcapRecord, type PcapPrecision } from './pcap.js';

const BUFFER_BYTES = 256 * 1024;

export interface PcapSinkCounters {
  records: number;
  bytes: number;
  flushes: number;
  /** Records lost because a write failed (disk full, reader gone). */
  writeErrors: number;
}

export class PcapFileSink {
  readonly counters: PcapSinkCounters = { records: 0, bytes: 0, flushes: 0, writeErrors: 0 };
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private buf = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  private flushScheduled = false;
  private closed = false;
  private failed: Error | undefined;

  /** Open `path` ('-' for stdout) and write the global header at once. */
  constructor(readonly path: string, readonly precision: PcapPrecision = 'us', private readonly now: () => bigint = wallClockNs) {
    if (path === '-') {
      this.fd = 1;
      this.ownsFd = false;
    } else {
      this.fd = openSync(path, 'w', 0o644);
      this.ownsFd = true;
    }
    this.writeAll(pcapGlobalHeader(precision));
  }

  /** Append one frame stamped now. */
  record(frame: Uint8Array): void {
    if (this.closed || this.failed) return;
    const need = PCAP_RECORD_HEADER_LEN + Math.min(frame.length, PCAP_SNAPLEN);
    if (this.used + need > this.buf.length) {
      this.flush();
      if (need > this.buf.length) this.buf = new Uint8Array(need);
    }
    this.used += writePcapRecord(this.buf, this.used, frame, this.now(), this.precision);
    this.counters.records++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Write what is buffered (whole records only). */
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
    } catch (e) {
      this.failed = e as Error;
      this.counters.writeErrors++;
    }
  }

  /** The write error that stopped the capture, if any. */
  get error(): Error | undefined {
    return this.failed;
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
