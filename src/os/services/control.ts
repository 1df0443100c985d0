// The rtos's periodic control task: released by a periodic timer, it records how late each
// release started (the real-time guarantee made visible) and may send a small UDP telemetry
// datagram each period (off unless a destination is configured).
import type { Ipv4 } from '../../wire/address.js';
import { writeU32 } from '../../wire/bytes.js';
import type { NetStack, UdpSocket } from '../../net/index.js';
import type { GuestKernel, TaskHandle } from '../kernel.js';
import { LatencyRecorder } from '../latency.js';

export interface ControlTaskOptions {
  periodUs: number;
  /** Task priority in the rtos (lower runs first). */
  priority?: number;
  telemetry?: { dst: Ipv4; port: number; srcPort?: number };
}

export class ControlTask {
  lateness = new LatencyRecorder();
  cycles = 0;
  telemetrySent = 0;
  telemetryDropped = 0;
  private pendingRelease: number | undefined;
  /** Releases that came while the previous one had not run yet (overruns). */
  overruns = 0;
  private readonly handle: TaskHandle;
  private readonly socket: UdpSocket | undefined;
  private readonly payload = new Uint8Array(24);

  constructor(kernel: GuestKernel, net: NetStack, private readonly opts: ControlTaskOptions) {
    this.handle = kernel.spawn({ name: 'control', priority: opts.priority ?? 0, step: (now) => this.step(now) });
    if (opts.telemetry) this.socket = net.udpBind(opts.telemetry.srcPort ?? 0, () => {});
    kernel.onBoot(() => {
      kernel.every(opts.periodUs, kernel.now() + opts.periodUs, (due) => {
        if (this.pendingRelease !== undefined) this.overruns++;
        this.pendingRelease = due;
        this.handle.release(due);
      });
    });
  }

  /** Start a new measurement window (the benchmark does this between phases). */
  resetLateness(): void {
    this.lateness = new LatencyRecorder();
  }

  private step(now: number): boolean {
    const released = this.pendingRelease;
    this.pendingRelease = undefined;
    if (released === undefined) return false;
    const late = now - released;
    this.lateness.record(late);
    this.cycles++;
    if (this.socket && this.opts.telemetry) {
      // 8-byte cycle number, 8-byte release time (µs), 8-byte lateness (ns); all big endian.
      // Written as two 32-bit halves (exact below 2^53), with no BigInt made per cycle; the
      // socket copies the payload into its frame, so one buffer serves every cycle.
      const p = this.payload;
      writeU64(p, 0, this.cycles);
      writeU64(p, 8, Math.floor(released));
      writeU64(p, 16, Math.max(0, Math.round(late * 1000)));
      if (this.socket.send(this.opts.telemetry.dst, this.opts.telemetry.port, this.payload)) this.telemetrySent++;
      else this.telemetryDropped++;
    }
    return false;
  }
}

/** A big-endian u64 of a safe integer `x` (0 <= x < 2^53) at `off`: wire/bytes.ts's writeU32 twice. */
function writeU64(buf: Uint8Array, off: number, x: number): void {
  writeU32(buf, off, Math.floor(x / 0x1_0000_0000));
  writeU32(buf, off + 4, x >>> 0);
}
