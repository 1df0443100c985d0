// The sink's back-pressure: a reader that stalls never blocks the processor (records beyond the
// bound are dropped and counted, what gets through is whole records), and a reader that goes away
// is reported once, every later record counted as lost. The disk-full case is a system test
// (test/capture-full.test.ts: a small tmpfs needs root).
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSink, FLUSH_MS } from './file-sink.js';
import { PCAP_GLOBAL_HEADER_LEN, PCAP_RECORD_HEADER_LEN, pcapGlobalHeader } from './pcap.js';

/** One pcap record (16-byte header with the captured length, then the frame): a whole block. */
function record(frame: Uint8Array): Uint8Array {
  const b = new Uint8Array(PCAP_RECORD_HEADER_LEN + frame.length);
  const v = new DataView(b.buffer);
  v.setUint32(8, frame.length, true);
  v.setUint32(12, frame.length, true);
  b.set(frame, PCAP_RECORD_HEADER_LEN);
  return b;
}
const HEADER = pcapGlobalHeader('us');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nanoshare-host-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** Read what the FIFO holds now (non-blocking). */
function drain(fd: number, into: number[]): void {
  const b = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, b, 0, b.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return;
      throw e;
    }
    if (n === 0) return;
    for (let i = 0; i < n; i++) into.push(b[i]!);
  }
}

/** Count whole records; fails on a partial one. */
function wholeRecords(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = PCAP_GLOBAL_HEADER_LEN;
  let n = 0;
  while (off < bytes.length) {
    const len = v.getUint32(off + 8, true);
    off += PCAP_RECORD_HEADER_LEN + len;
    expect(off).toBeLessThanOrEqual(bytes.length);
    n++;
  }
  return n;
}

describe('FileSink on a regular file', () => {
  it('writes a block within FLUSH_MS, not during the call: one write per many frames under a flood', async () => {
    const path = join(dir, 'f.pcap');
    const sink = new FileSink(path, HEADER);
    expect(statSync(path).size).toBe(PCAP_GLOBAL_HEADER_LEN);
    sink.write(record(new Uint8Array(60)));
    sink.write(record(new Uint8Array(60)));
    await new Promise((r) => setImmediate(r));
    expect(statSync(path).size).toBe(PCAP_GLOBAL_HEADER_LEN); // still buffered after a turn of the loop
    await new Promise((r) => setTimeout(r, FLUSH_MS + 20));
    expect(statSync(path).size).toBe(PCAP_GLOBAL_HEADER_LEN + 2 * (PCAP_RECORD_HEADER_LEN + 60));
    expect(sink.counters.flushes).toBe(1);
    sink.close();
  });
});

describe('FileSink on a pipe', () => {
  it('a stalled reader: record() never blocks, frames beyond the bound are dropped and counted, the stream holds whole records', async () => {
    const fifo = join(dir, 'cap.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const errors: Error[] = [];
    const bound = 128 * 1024;
    const sink = new FileSink(fifo, HEADER, { maxPendingBytes: bound, onError: (e) => errors.push(e) });
    try {
      const frame = new Uint8Array(1000).fill(7);
      const block = record(frame);
      const total = 5000; // 5 MB: far beyond the pipe (64 KiB) plus the bound
      for (let i = 0; i < total; i++) {
        sink.write(block);
        if (i % 50 === 49) sink.flush();
      }
      sink.flush();
      // Reached here without blocking; what the reader did not take is bounded, the rest counted.
      expect(sink.counters.dropped).toBeGreaterThan(0);
      expect(sink.counters.blocks + sink.counters.dropped).toBe(total);
      expect(sink.counters.blocks * (PCAP_RECORD_HEADER_LEN + frame.length)).toBeLessThan(65536 + bound + 2 * (PCAP_RECORD_HEADER_LEN + frame.length));
      expect(errors).toEqual([]);

      // The reader wakes up: it gets exactly the records counted, all whole.
      const got: number[] = [];
      const want = PCAP_GLOBAL_HEADER_LEN + sink.counters.blocks * (PCAP_RECORD_HEADER_LEN + frame.length);
      for (let i = 0; i < 400 && got.length < want; i++) {
        drain(rfd, got);
        await tick();
      }
      expect(got.length).toBe(want);
      expect(wholeRecords(Uint8Array.from(got))).toBe(sink.counters.blocks);

      // Room again: new records get through.
      const before = sink.counters.blocks;
      sink.write(block);
      sink.flush();
      expect(sink.counters.blocks).toBe(before + 1);
    } finally {
      sink.close();
      closeSync(rfd);
    }
  });

  it('a reader that goes away: the first error is reported once, later records are counted as lost', async () => {
    const fifo = join(dir, 'cap.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const errors: Error[] = [];
    const sink = new FileSink(fifo, HEADER, { onError: (e) => errors.push(e) });
    closeSync(rfd);
    const block = record(new Uint8Array(100));
    for (let i = 0; i < 50 && errors.length === 0; i++) {
      sink.write(block);
      sink.flush();
      await tick();
    }
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('EPIPE');
    const lost = sink.counters.writeErrors;
    for (let i = 0; i < 10; i++) sink.write(block);
    sink.flush();
    await tick();
    expect(sink.counters.writeErrors).toBe(lost + 10);
    expect(errors).toHaveLength(1);
    sink.close();
  });

  it('a FIFO nobody reads is an error at open, not a hang', () => {
    const fifo = join(dir, 'cap.fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(() => new FileSink(fifo, HEADER)).toThrow(/ENXIO/);
  });
});

describe('FileSink on a file', () => {
  it('creates the file without world or group access', () => {
    const p = join(dir, 'x.pcap');
    const sink = new FileSink(p, HEADER);
    sink.close();
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });
});
