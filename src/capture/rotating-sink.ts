// Rotation as tcpdump's -C/-W do it: when the next block would take the current file past
// `maxBytes`, close it and start the next, each file beginning with the format's header (the
// pcap global header, or SHB + IDBs), so every file opens on its own in Wireshark. With
// `files` set, the names cycle (a ring of the last K files); without it they keep counting.
// `cap.pcapng` becomes cap.0.pcapng, cap.1.pcapng, ...
import { rmSync } from 'node:fs';
import { FileSink, emptySinkCounters, type CaptureSink, type SinkCounters } from './file-sink.js';

export interface RotationOptions {
  /** Largest file, in bytes (tcpdump's -C is in millions of bytes). */
  maxBytes: number;
  /** Number of files kept in the ring; undefined = unbounded. */
  files: number | undefined;
}

/** Name of the `i`th file of a rotation: the index goes before the extension. */
export function rotatedName(path: string, i: number): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1 ? `${path.slice(0, dot)}.${i}${path.slice(dot)}` : `${path}.${i}`;
}

export class RotatingFileSink implements CaptureSink {
  readonly counters: SinkCounters = emptySinkCounters();
  private current: FileSink;
  private index = 0;

  constructor(readonly path: string, private readonly header: Uint8Array, private readonly opts: RotationOptions) {
    if (path === '-') throw new Error('stdout cannot be rotated');
    this.current = this.open(0);
  }

  private open(i: number): FileSink {
    const name = rotatedName(this.path, i);
    rmSync(name, { force: true }); // a file of an earlier run or an earlier lap of the ring
    return new FileSink(name, this.header, { counters: this.counters });
  }

  /** The file being written now. */
  get currentPath(): string {
    return this.current.path;
  }

  write(block: Uint8Array): void {
    if (this.current.pendingSize + block.length > this.opts.maxBytes && this.current.pendingSize > this.header.length) {
      this.current.close();
      this.index++;
      const slot = this.opts.files === undefined ? this.index : this.index % this.opts.files;
      this.current = this.open(slot);
    }
    this.current.write(block);
  }

  flush(): void {
    this.current.flush();
  }

  get error(): Error | undefined {
    return this.current.error;
  }

  close(): void {
    this.current.close();
  }
}
