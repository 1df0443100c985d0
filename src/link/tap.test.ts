// TapLink and HrTimer: unit tests (no privileges; a fake addon where the kernel is not needed) and
// one system test that follows the lab rule: the TAP lives in a namespace this test creates.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, probe, skipLab, stopChild, waitFor } from '../../test/lab.js';
import type { LinkReceiver } from './link.js';
import { HrTimer } from './hrtimer.js';
import { addonPath, loadNativeAddon, TapError, TapLink, type NativeAddon, type NativeTap } from './tap.js';
import { kernelCut, segment, stream } from './tso-testing.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const onLinux = process.platform === 'linux';

/**
 * A stand-in for the addon's Tap: records writes, lets the test play the kernel's side. `deliver`
 * does what native/tap.cc does on a readable TAP: each frame is copied (cut to readMax) into the
 * receive buffer at rxState[0], 8-byte aligned, lengths in rxLengths, then onFrames(count).
 */
class FakeTap implements NativeTap {
  static last: FakeTap | undefined;
  readonly written: Uint8Array[] = [];
  accept = true;
  closed = 0;
  rxBuffer: Uint8Array | undefined;
  constructor(
    readonly name: string,
    readonly onFrames: (count: number) => void,
    readonly fail: (err: Error) => void,
    readonly rxLengths: Uint32Array,
    readonly rxState: Uint32Array,
    readonly readMax: number,
    readonly vnetHdr?: boolean,
  ) {
    FakeTap.last = this;
  }
  setRxBuffer(buf: Uint8Array): void {
    this.rxBuffer = buf;
  }
  deliver(frames: readonly Uint8Array[]): void {
    let off = this.rxState[0]!;
    let n = 0;
    for (const f of frames) {
      if (this.rxBuffer!.length - off < this.readMax) {
        // No room for a whole frame: what was read goes up now, the rest on the next wake-up.
        if (n === 0) throw new Error('the link left no room for a whole frame');
        this.onFrames(n);
        off = this.rxState[0]!;
        n = 0;
        if (this.rxBuffer!.length - off < this.readMax) throw new Error('the link left no room for a whole frame');
      }
      const len = Math.min(f.length, this.readMax);
      this.rxBuffer!.set(f.subarray(0, len), off);
      this.rxLengths[n++] = len;
      off += (len + 7) & ~7;
    }
    if (n > 0) this.onFrames(n);
  }
  write(frame: Uint8Array): boolean {
    if (!this.accept || this.closed > 0) return false; // as the addon: a closed TAP takes nothing
    this.written.push(frame);
    return true;
  }
  writeBatch(frames: readonly Uint8Array[]): number {
    return frames.filter((f) => this.write(f)).length;
  }
  close(): void {
    this.closed++;
  }
}

const fakeAddon: NativeAddon = {
  Tap: FakeTap,
  HrTimer: class {
    arm(): void {}
    armUs(): void {}
    disarm(): void {}
    close(): void {}
  },
};

function recorder(): LinkReceiver & { batches: (readonly Uint8Array[])[]; errors: Error[] } {
  const batches: (readonly Uint8Array[])[] = [];
  const errors: Error[] = [];
  return { batches, errors, onFrames: (b) => batches.push(b), onError: (e) => errors.push(e) };
}

describe('TapLink over a fake addon', () => {
  it('drops and counts frames that arrive before attach, then delivers batches as they are', () => {
    const link = TapLink.withAddon(fakeAddon, 'nstap0');
    const tap = FakeTap.last!;
    tap.deliver([new Uint8Array(60)]);
    expect(link.stats.rxUnattached).toBe(1);
    expect(link.stats.rxFrames).toBe(0);

    const rx = recorder();
    link.attach(rx);
    const batch = [new Uint8Array(60).fill(1), new Uint8Array(1514).fill(2)];
    tap.deliver(batch);
    expect(rx.batches).toHaveLength(1);
    expect(rx.batches[0]).toEqual(batch);
    // Views of the one receive buffer the addon read into: no copy on the way in.
    expect(rx.batches[0]![0]!.buffer).toBe(tap.rxBuffer!.buffer);
    expect(rx.batches[0]![1]!.buffer).toBe(tap.rxBuffer!.buffer);
    expect(link.stats).toMatchObject({ rxFrames: 2, rxBytes: 1574, rxBatches: 2, rxUnattached: 1 });
  });

  it('never writes over a frame it delivered: held frames keep their bytes through many batches and new receive buffers', () => {
    const link = TapLink.withAddon(fakeAddon, 'nstap0', { mtu: 1500 });
    const tap = FakeTap.last!;
    const held: Array<{ frame: Uint8Array; want: Uint8Array }> = [];
    link.attach({
      onFrames: (b) => {
        // Keep every frame past the callback, as a guest's RX queue does.
        for (const f of b) held.push({ frame: f, want: f.slice() });
      },
      onError: () => {},
    });
    const buffers = new Set<ArrayBufferLike>();
    for (let i = 0; i < 3000; i++) {
      const len = 60 + ((i * 37) % 1459); // 60..1518 bytes, every alignment
      const batch = Array.from({ length: 1 + (i % 7) }, (_, j) => new Uint8Array(len).fill((i * 7 + j) & 0xff));
      tap.deliver(batch);
      buffers.add(tap.rxBuffer!.buffer);
    }
    expect(buffers.size).toBeGreaterThan(50); // the link moved on to fresh buffers many times
    expect(link.rxBuffers).toBe(buffers.size);
    let intact = 0;
    for (const h of held) if (h.frame.length === h.want.length && h.frame.every((b, k) => b === h.want[k])) intact++;
    expect(intact).toBe(held.length);
    expect(held.length).toBe(link.stats.rxFrames);
  });

  it('passes a frame longer than mtu + 18 on cut to mtu + 19 bytes, so the NIC sees it is oversize', () => {
    const link = TapLink.withAddon(fakeAddon, 'nstap0', { mtu: 1500 });
    const rx = recorder();
    link.attach(rx);
    FakeTap.last!.deliver([new Uint8Array(9000)]);
    expect(rx.batches[0]![0]!.length).toBe(1519);
  });

  it('counts sends, refuses frames outside 14..mtu+18 bytes, and counts what the kernel refused', () => {
    const link = TapLink.withAddon(fakeAddon, 'nstap0', { mtu: 1500 });
    const tap = FakeTap.last!;
    expect(link.send(new Uint8Array(1518))).toBe(true);
    expect(link.send(new Uint8Array(1519))).toBe(false);
    expect(link.send(new Uint8Array(13))).toBe(false);
    tap.accept = false;
    expect(link.send(new Uint8Array(60))).toBe(false);
    expect(link.stats).toMatchObject({ txFrames: 1, txBytes: 1518, txDropped: 3 });
    expect(tap.written).toHaveLength(1);
  });

  it('reports read errors as TapError events with their code, and closes once', () => {
    const link = TapLink.withAddon(fakeAddon, 'nstap0');
    const tap = FakeTap.last!;
    const rx = recorder();
    link.attach(rx);
    tap.fail(Object.assign(new Error('read from TAP nstap0: File descriptor in bad state'), { code: 'EBADFD' }));
    expect(rx.errors[0]).toBeInstanceOf(TapError);
    expect((rx.errors[0] as TapError).code).toBe('EBADFD');
    expect(link.stats.rxErrors).toBe(1);
    link.close();
    link.close();
    expect(tap.closed).toBe(1);
    expect(link.send(new Uint8Array(60))).toBe(false);
  });

  it('wraps constructor errors from the addon in TapError', () => {
    const throwing: NativeAddon = {
      ...fakeAddon,
      Tap: class extends FakeTap {
        constructor(name: string, onFrames: (count: number) => void, fail: (err: Error) => void, l: Uint32Array, st: Uint32Array, max: number) {
          super(name, onFrames, fail, l, st, max);
          throw Object.assign(new Error(`TAP ${name} is busy: another process has it open`), { code: 'EBUSY' });
        }
      },
    };
    expect(() => TapLink.withAddon(throwing, 'nstap0')).toThrow(expect.objectContaining({ name: 'TapError', code: 'EBUSY' }));
    expect(() => TapLink.withAddon(fakeAddon, 'nstap0', { mtu: 10 })).toThrow(TapError);
  });
});

/**
 * A fake addon Tap opened with virtio-net headers: a super-segment is cut as the kernel would
 * (tso-testing's kernelCut), so `written` is what reaches the wire either way.
 */
class FakeGsoTap extends FakeTap {
  readonly gsoWrites: Array<{ count: number; gsoSize: number }> = [];
  acceptGso = true;
  writeGso(head: Uint8Array, hdrLen: number, segments: readonly Uint8Array[], count: number, gsoSize: number): boolean {
    if (!this.acceptGso) return false;
    const parts = segments.slice(0, count).map((f) => f.subarray(hdrLen));
    const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((off, p) => (payload.set(p, off), off + p.length), 0);
    this.written.push(...kernelCut(head.slice(0, hdrLen), hdrLen, payload, gsoSize));
    this.gsoWrites.push({ count, gsoSize });
    return true;
  }
}

const gsoAddon: NativeAddon = { ...fakeAddon, Tap: FakeGsoTap };

/** A TSO link over FakeGsoTap with `frames` sent between hold() and (unless `close`) flush(). */
/** `gsoThrows`: writeGso throws an addon error with this code (EINVAL: refused; EBADFD: device gone). */
function sendHeld(
  frames: readonly Uint8Array[],
  opts: { refuse?: boolean; close?: boolean; gsoThrows?: string } = {},
): { link: TapLink; tap: FakeGsoTap; rx: ReturnType<typeof recorder> } {
  const link = TapLink.withAddon(gsoAddon, 'nstap0');
  const tap = FakeTap.last as FakeGsoTap;
  const rx = recorder();
  link.attach(rx);
  tap.acceptGso = tap.accept = !opts.refuse;
  const code = opts.gsoThrows;
  if (code !== undefined) {
    tap.writeGso = () => {
      throw Object.assign(new Error(`write to TAP nstap0: ${code}`), { code });
    };
  }
  link.hold();
  for (const f of frames) link.send(f);
  if (opts.close) link.close();
  else link.flush();
  return { link, tap, rx };
}

describe('TapLink TSO over a fake addon (link/tso.ts)', () => {
  const arp = new Uint8Array(60).fill(6);
  arp[12] = 0x08;
  arp[13] = 0x06;

  it('between hold() and flush(), joins each flow\'s run of segments into one write; the wire gets every frame in order', () => {
    const link = TapLink.withAddon(gsoAddon, 'nstap0');
    const tap = FakeTap.last as FakeGsoTap;
    expect(tap.vnetHdr).toBe(true); // TSO is the default: the TAP is opened with virtio-net headers
    expect(link.tso).toBe(true);
    const a = stream(10, 1448, 500);
    const b = stream(3, 1000, 1000, { dstPort: 40001, seq: 5, ident: 9 });
    const sent = [...a, arp, ...b];
    link.hold();
    for (const f of a) expect(link.send(f)).toBe(true);
    expect(tap.written).toHaveLength(0); // held, to be joined
    expect(link.send(arp)).toBe(true); // not a segment: the held ones go first, then the ARP
    expect(tap.written).toEqual([...a, arp]);
    for (const f of b) expect(link.send(f)).toBe(true);
    link.flush();
    expect(tap.written).toEqual(sent);
    expect(tap.gsoWrites).toEqual([
      { count: 10, gsoSize: 1448 },
      { count: 3, gsoSize: 1000 },
    ]);
    expect(link.stats).toMatchObject({ txFrames: 14, txBytes: sent.reduce((n, f) => n + f.length, 0), txDropped: 0, txTsoWrites: 2, txTsoSegments: 13 });
  });

  it('writes each frame at once outside hold(), and a lone held segment as a plain frame', () => {
    const link = TapLink.withAddon(gsoAddon, 'nstap0');
    const tap = FakeTap.last as FakeGsoTap;
    const [one, two] = stream(2, 1000);
    link.send(one!);
    expect(tap.written).toEqual([one]);
    link.hold();
    link.send(two!);
    link.flush();
    expect(tap.written).toEqual([one, two]);
    expect(tap.gsoWrites).toHaveLength(0);
    expect(link.stats).toMatchObject({ txFrames: 2, txTsoWrites: 0 });
    link.flush(); // nothing held: nothing written again
    expect(tap.written).toHaveLength(2);
  });

  it('joins at most 64 segments per write', () => {
    const segs = stream(70, 500);
    const { tap } = sendHeld(segs);
    expect(tap.gsoWrites.map((w) => w.count)).toEqual([64, 6]);
    expect(tap.written).toEqual(segs);
  });

  it('a super-segment the kernel refuses is counted as dropped, segment by segment', () => {
    // Four to join, then a lone one of another flow, refused too.
    const { link } = sendHeld([...stream(4, 1000, 200), segment({ payload: new Uint8Array(10), seq: 7, ident: 1, dstPort: 9 })], { refuse: true });
    expect(link.stats).toMatchObject({ txFrames: 0, txBytes: 0, txDropped: 5, txTsoWrites: 0, txTsoSegments: 0 });
  });

  it('a super-segment the kernel refuses as malformed turns TSO off: those segments and later ones go frame by frame, with one error event', () => {
    const segs = stream(4, 1000);
    const { link, tap, rx } = sendHeld(segs, { gsoThrows: 'EINVAL' });
    expect(tap.written).toEqual(segs);
    expect(link.tso).toBe(false);
    expect(rx.errors.map((e) => (e as TapError).code)).toEqual(['ETSO']);
    const more = stream(3, 1000, 1000, { seq: 1, ident: 1 });
    link.hold();
    link.send(more[0]!);
    expect(tap.written).toHaveLength(5); // not held any more
    expect(link.stats).toMatchObject({ txFrames: 5, txDropped: 0, txTsoWrites: 0 });
  });

  it('a frame that meets the ETSO fallback is written behind the run it interrupted, never after later frames', () => {
    const a = stream(2, 1000);
    const b = stream(2, 1000, 1000, { dstPort: 40001, seq: 5, ident: 9 });
    const { tap } = sendHeld([...a, ...b], { gsoThrows: 'EINVAL' });
    expect(tap.written).toEqual([...a, ...b]);
  });

  it('a device error on a super-segment is reported as it is, its segments dropped, and TSO stays on', () => {
    const { link, tap, rx } = sendHeld(stream(3, 1000), { gsoThrows: 'EBADFD' });
    expect(rx.errors.map((e) => (e as TapError).code)).toEqual(['EBADFD']);
    expect(link.tso).toBe(true);
    expect(tap.written).toEqual([]);
    expect(link.stats).toMatchObject({ txFrames: 0, txDropped: 3 });
  });

  it('a link closed by an error event while it writes a run holds nothing after: the next frame is refused, not held', () => {
    const link = TapLink.withAddon(gsoAddon, 'nstap0');
    const tap = FakeTap.last as FakeGsoTap;
    link.attach({ onFrames: () => {}, onError: () => link.close() }); // as a reattaching link does on a gone device
    tap.writeGso = () => {
      throw Object.assign(new Error('gone'), { code: 'EBADFD' });
    };
    const a = stream(2, 1000);
    const next = segment({ payload: new Uint8Array(100), seq: 1, ident: 1, dstPort: 9 });
    link.hold();
    for (const f of a) link.send(f);
    expect(link.send(next)).toBe(false);
    expect(link.stats).toMatchObject({ txFrames: 0, txDropped: 3 });
  });

  it('close() writes what is held first', () => {
    const segs = stream(3, 1000);
    const { tap } = sendHeld(segs, { close: true });
    expect(tap.written).toEqual(segs);
    expect(tap.closed).toBe(1);
  });

  it('tso: false opens the TAP without virtio-net headers and writes frame by frame; so does an addon without them', () => {
    const off = TapLink.withAddon(gsoAddon, 'nstap0', { tso: false });
    const tap = FakeTap.last as FakeGsoTap;
    expect(tap.vnetHdr).toBe(false);
    expect(off.tso).toBe(false);
    const segs = stream(3, 1000);
    off.hold();
    expect(off.send(segs[0]!)).toBe(true);
    expect(tap.written).toEqual([segs[0]]); // not held
    const plain = TapLink.withAddon(fakeAddon, 'nstap0');
    expect(plain.tso).toBe(false);
  });
});

describe('the native addon loader', () => {
  it('says how to build the addon when it is missing', () => {
    let err: unknown;
    try {
      loadNativeAddon('/nonexistent/native/build/Release/nanoshare_tap.node');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TapError);
    expect((err as TapError).code).toBe('ENOADDON');
    expect((err as TapError).message).toMatch(/npm run build:native.*python3, make, g\+\+/);
  });
});

describe.skipIf(!onLinux)('the native addon (built by npm install)', () => {
  it('rejects a TAP name over 15 characters before touching the kernel', () => {
    let err: unknown;
    try {
      TapLink.open('nstap-0123456789'); // 16 characters
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TapError);
    expect((err as TapError).code).toBe('ENAMETOOLONG');
    expect((err as TapError).message).toMatch(/at most 15 characters/);
  });

  it('HrTimer fires once, at or after its deadline, in deadline order', async () => {
    const fired: { id: 'a' | 'b'; at: bigint }[] = [];
    let resolveB!: () => void;
    const bFired = new Promise<void>((r) => (resolveB = r));
    const a = new HrTimer(() => fired.push({ id: 'a', at: process.hrtime.bigint() }));
    const b = new HrTimer(() => {
      fired.push({ id: 'b', at: process.hrtime.bigint() });
      resolveB();
    });
    const now = process.hrtime.bigint();
    const deadlines = { a: now + 2_000_000n, b: now + 3_000_000n };
    a.arm(now + 50_000_000n);
    a.arm(deadlines.a); // re-arming replaces the earlier deadline
    b.arm(deadlines.b);
    await bFired;
    await new Promise((r) => setTimeout(r, 60)); // past a's first deadline: it must not fire again
    a.close();
    b.close();
    expect(fired.map((f) => f.id)).toEqual(['a', 'b']);
    for (const f of fired) {
      const lateNs = f.at - deadlines[f.id];
      process.stderr.write(`HrTimer ${f.id} fired ${Number(lateNs) / 1000} us after its deadline\n`);
      expect(lateNs).toBeGreaterThanOrEqual(0n);
    }
  });

  it('HrTimer.armUs takes the same CLOCK_MONOTONIC deadline in microseconds: never early, and re-arming replaces it', async () => {
    const t = new HrTimer(() => fired.push(process.hrtime.bigint()));
    const fired: bigint[] = [];
    const nowUs = Number(process.hrtime.bigint()) / 1000;
    const deadlineUs = nowUs + 3000;
    t.armUs(nowUs + 1000); // replaced before it is due
    t.armUs(deadlineUs);
    await new Promise((r) => setTimeout(r, 40));
    t.close();
    expect(fired).toHaveLength(1);
    // Early by even a microsecond would mean the µs deadline lost its meaning on the way to the timerfd.
    expect(Number(fired[0]!) / 1000).toBeGreaterThanOrEqual(deadlineUs);
  });

  it('HrTimer.disarm prevents firing', async () => {
    let disarmedFired = false;
    const disarmed = new HrTimer(() => (disarmedFired = true));
    const now = process.hrtime.bigint();
    disarmed.arm(now + 1_000_000n);
    disarmed.disarm();
    await new Promise<void>((resolve) => {
      const later = new HrTimer(() => {
        later.close();
        resolve();
      });
      later.arm(now + 5_000_000n); // fires after the disarmed deadline has long passed
    });
    expect(disarmedFired).toBe(false);
    disarmed.close();
  });

  it('an armed HrTimer keeps the process alive; a disarmed or closed one does not', () => {
    const script = (body: string): string =>
      `const { HrTimer } = require(${JSON.stringify(addonPath)});` +
      `process.on('exit', () => console.log('exit'));` +
      body;
    const run = (body: string) => spawnSync(process.execPath, ['-e', script(body)], { encoding: 'utf8', timeout: 10_000 });

    const armed = run(`new HrTimer(() => console.log('fired')).arm(process.hrtime.bigint() + 20_000_000n);`);
    expect(armed.stdout.split('\n')).toEqual(['fired', 'exit', '']);

    const idle = run(
      `const t = new HrTimer(() => console.log('fired')); t.arm(process.hrtime.bigint() + 5_000_000_000n); t.disarm();` +
        `const c = new HrTimer(() => console.log('fired')); c.arm(process.hrtime.bigint() + 5_000_000_000n); c.close();`,
    );
    expect(idle.error).toBeUndefined(); // not killed by the timeout
    expect(idle.stdout.split('\n')).toEqual(['exit', '']);
  });
});

// ---------------------------------------------------------------------------------------------
// System: a real TAP inside a namespace of our own. The opener must run in the namespace (a TAP is
// created in the namespace of the process that opens /dev/net/tun), so a child does it there.

const skipSystem = skipLab();
const TAP = 'nstap-t0';
const PEER_IP = '10.99.0.2';
const PEER_MAC = '02:4e:53:99:00:02';

const skipOffload = skipLab(['python3']);

describe.skipIf(skipOffload)('a persistent TAP left with offloads on (system)', () => {
  it('is opened with its offloads cleared: the frames read carry whole checksums, not partial ones', async () => {
    const ns = Netns.create('tapoff');
    try {
      const name = 'nstap-o0';
      ns.exec(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
      // What QEMU leaves: TUNSETIFF (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), TUNSETOFFLOAD (CSUM | TSO4).
      ns.exec(['python3', '-c', [
        'import fcntl, os, struct',
        "fd = os.open('/dev/net/tun', os.O_RDWR)",
        `fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', b'${name}', 0x0002 | 0x1000 | 0x4000))`,
        'fcntl.ioctl(fd, 0x400454d0, 3)',
        'os.close(fd)',
      ].join('\n')]);
      const out = ns.exec([process.execPath, `${repoRoot}test/tap-offload-child.mjs`, name], { timeoutMs: 10_000 });
      const lines = out.trim().split('\n');
      expect(lines, out).toContain('tcp checksum ok'); // the SYN (and its retries)
      expect(lines, out).not.toContain('tcp checksum bad');
    } finally {
      await ns.delete();
    }
  }, 30_000);
});

describe.skipIf(skipSystem)('a TAP in its own network namespace (system)', () => {
  let ns: Netns | undefined;
  afterAll(async () => {
    await ns?.delete();
  });

  it('reads in batches, writes ARP replies the kernel believes, and vanishes when closed', async () => {
    ns = Netns.create('tap');
    const child: ChildProcess = ns.spawn([process.execPath, 'test/tap-netns-child.mjs', TAP, PEER_IP, PEER_MAC, '150'], {
      cwd: repoRoot,
    });
    const lines: string[] = [];
    let stderr = '';
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const seen = (what: string, pred: (l: string) => boolean) =>
      waitFor(what, () => {
        if (child.exitCode !== null) throw new Error(`child exited (${child.exitCode}) before ${what}: ${stderr}`);
        return lines.find(pred);
      });

    expect(await seen('ready', (l) => l.startsWith('ready '))).toBe(`ready ${TAP}`);
    expect(lines).toContain('ebusy EBUSY'); // a second opener of the same TAP

    ns.exec(['ip', 'link', 'set', TAP, 'up']);
    ns.exec(['ip', 'addr', 'add', '10.99.0.1/24', 'dev', TAP]);
    probe(ns, PEER_IP, { count: 1, timeoutMs: 300 }); // no echo reply comes: only its ARP request matters
    await seen('an ARP reply', (l) => l.startsWith('arp-reply 10.99.0.1 sent'));
    const neigh = ns.exec(['ip', 'neigh', 'show', 'dev', TAP]);
    expect(neigh).toMatch(new RegExp(`${PEER_IP.replace(/\./g, '\\.')} lladdr ${PEER_MAC} (REACHABLE|STALE|DELAY)`));

    // A burst while the child stalls its loop on echo 2: the rest queue in the kernel, read as one batch.
    probe(ns, PEER_IP, { count: 20, intervalMs: 5, timeoutMs: 300 }); // sequence numbers 0..19
    await seen('the last echo request', (l) => l === 'echo 19');
    const sizes = lines.filter((l) => l.startsWith('batch ')).map((l) => Number(l.slice(6)));
    process.stderr.write(`TAP rx batch sizes: ${sizes.join(' ')}\n`);
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64);

    await stopChild(child);
    expect(child.exitCode).toBe(0); // closed the TAP itself on SIGTERM
    expect(ns.run(['ip', 'link', 'show', TAP]).status).not.toBe(0); // non-persistent: gone with its fd
  });
});
