// The reattaching link on in-memory links: a "gone" error detaches without a crash or a flood,
// frames meanwhile are dropped and counted, the reopen backs off while it fails, and after the
// reopen frames flow again both ways with the host side restored. The bridge watch: one line
// when the bridge goes, one when the TAP is attached again. The real TAP is a system test.
import { describe, expect, it, vi } from 'vitest';
import { MemoryLink } from '../link/memory.js';
import { ReattachingLink, isLinkGone, watchBridge, type BridgeOps } from './reattach.js';

function fakeLog(): { lines: string[]; warn(o: object, m: string): void; info(o: object, m: string): void } {
  const lines: string[] = [];
  return { lines, warn: (_o, m) => lines.push(`warn ${m}`), info: (_o, m) => lines.push(`info ${m}`) };
}

const gone = (): Error => Object.assign(new Error('read from TAP t0: File descriptor in bad state (receive stopped)'), { code: 'EBADFD' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A MemoryLink that can report an error to its receiver, as the addon does. */
class FailingLink extends MemoryLink {
  private receiver: { onError(e: Error): void } | undefined;
  override attach(rx: Parameters<MemoryLink['attach']>[0]): void {
    super.attach(rx);
    this.receiver = rx;
  }
  fail(e: Error): void {
    this.receiver?.onError(e);
  }
}

describe('ReattachingLink', () => {
  it('detaches on a gone error, drops and counts while away, backs off, and reattaches with the host side restored', async () => {
    const first = new FailingLink('t0');
    const opened: FailingLink[] = [];
    let openable = false;
    let opensTried = 0;
    const restored: string[] = [];
    const log = fakeLog();
    const link = new ReattachingLink(first, {
      open: () => {
        opensTried++;
        if (!openable) throw new Error('no TAP yet');
        const l = new FailingLink('t0');
        opened.push(l);
        return l;
      },
      canOpen: async () => true,
      restore: async (name) => void restored.push(name),
      log,
      minDelayMs: 5,
      maxDelayMs: 40,
    });
    const got: Uint8Array[] = [];
    const errors: Error[] = [];
    link.attach({ onFrames: (b) => got.push(...b), onError: (e) => errors.push(e) });
    expect(link.send(new Uint8Array(60))).toBe(true);

    first.fail(gone());
    expect(link.detached).toBe(true);
    expect(errors).toEqual([]); // the loss is handled here, not passed on as a link error
    expect(link.send(new Uint8Array(60))).toBe(false);
    expect(link.stats.txWhileDetached).toBe(1);

    // Reopen attempts fail for a while: they back off (5, 10, 20, 40, 40 ms ...) and log nothing.
    await sleep(200);
    expect(opensTried).toBeGreaterThanOrEqual(3);
    expect(opensTried).toBeLessThan(15);
    expect(log.lines).toEqual(['warn link gone: the guests keep running; reattaching when it is back']);

    openable = true;
    await sleep(100);
    expect(link.detached).toBe(false);
    expect(opened).toHaveLength(1);
    expect(restored).toEqual(['t0']);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]).toBe('info link back: reattached');

    // Frames flow both ways on the new link; the counters are totals over both.
    expect(link.send(new Uint8Array(60))).toBe(true);
    expect(opened[0]!.sent).toHaveLength(1);
    opened[0]!.inject([new Uint8Array(64)]);
    expect(got).toHaveLength(1);
    const s = link.stats;
    expect([s.txFrames, s.linkLost, s.linkReattached, s.txDropped]).toEqual([2, 1, 1, 1]);

    // Frames or errors from the closed first link are ignored.
    first.fail(gone());
    expect(link.detached).toBe(false);
    link.close();
  });

  it('other link errors are passed on and do not detach', () => {
    const first = new FailingLink('t0');
    const link = new ReattachingLink(first, { open: () => new MemoryLink(), canOpen: async () => true, restore: async () => {}, log: fakeLog() });
    const errors: Error[] = [];
    link.attach({ onFrames: () => {}, onError: (e) => errors.push(e) });
    first.fail(Object.assign(new Error('EAGAIN storm'), { code: 'ENOBUFS' }));
    expect(errors).toHaveLength(1);
    expect(link.detached).toBe(false);
  });

  it('a TAP that existed before is waited for, not created; close stops the retries', async () => {
    const first = new FailingLink('t0');
    let opens = 0;
    let checks = 0;
    const link = new ReattachingLink(first, {
      open: () => (opens++, new MemoryLink('t0')),
      canOpen: async () => (checks++, false),
      restore: async () => {},
      log: fakeLog(),
      minDelayMs: 5,
      maxDelayMs: 10,
    });
    link.attach({ onFrames: () => {}, onError: () => {} });
    first.fail(gone());
    // Retries every 5-10 ms: at least two checks soon, however busy the machine (a fixed 60 ms
    // sleep failed once while two mutation runs loaded both cores).
    await vi.waitFor(() => expect(checks).toBeGreaterThan(1), { timeout: 5000, interval: 10 });
    expect(opens).toBe(0);
    link.close();
    const after = checks;
    await sleep(40);
    expect(checks).toBe(after);
  });

  it('passes hold() and flush() to the link it has, and sums its TSO counters across reopenings', async () => {
    class TsoLink extends FailingLink {
      calls: string[] = [];
      hold(): void {
        this.calls.push('hold');
      }
      flush(): void {
        this.calls.push('flush');
      }
    }
    const first = new TsoLink('t0');
    Object.assign(first.stats, { txTsoWrites: 2, txTsoSegments: 30 });
    const second = new TsoLink('t0');
    Object.assign(second.stats, { txTsoWrites: 1, txTsoSegments: 5 });
    const link = new ReattachingLink(first, { open: () => second, canOpen: async () => true, restore: async () => {}, log: fakeLog(), minDelayMs: 1 });
    link.attach({ onFrames: () => {}, onError: () => {} });
    link.hold();
    link.flush();
    expect(first.calls).toEqual(['hold', 'flush']);
    expect(link.stats).toMatchObject({ txTsoWrites: 2, txTsoSegments: 30 });
    first.fail(gone());
    link.hold(); // no link: nothing to hold, and no throw
    link.flush();
    await vi.waitFor(() => expect(link.detached).toBe(false), { timeout: 2000 });
    link.hold();
    expect(second.calls).toEqual(['hold']);
    expect(link.stats).toMatchObject({ txTsoWrites: 3, txTsoSegments: 35 });
    link.close();
  });

  it('isLinkGone: the addon codes for a device that went away', () => {
    expect(isLinkGone(gone())).toBe(true);
    expect(isLinkGone(Object.assign(new Error('x'), { code: 'ENODEV' }))).toBe(true);
    expect(isLinkGone(Object.assign(new Error('x'), { code: 'EAGAIN' }))).toBe(false);
    expect(isLinkGone(new Error('no code'))).toBe(false);
  });
});

describe('watchBridge', () => {
  it('logs once when the bridge goes, re-attaches the TAP when it is back, and logs once more', async () => {
    const state = { master: 'br0' as string | undefined, bridge: true, attaches: 0 };
    const ops: BridgeOps = {
      masterOf: async () => state.master,
      exists: async () => state.bridge,
      attach: async (_t, b) => {
        state.attaches++;
        state.master = b;
      },
    };
    let fire: () => void = () => {};
    let unsubscribed = false;
    const log = fakeLog();
    const stop = watchBridge('t0', 'br0', ops, log, (cb) => ((fire = cb), () => (unsubscribed = true)));
    fire();
    await sleep(5);
    expect(log.lines).toEqual([]);
    // The bridge is deleted: the TAP is left without a master. Many events, one line.
    state.bridge = false;
    state.master = undefined;
    for (let i = 0; i < 20; i++) {
      fire();
      await sleep(1);
    }
    expect(log.lines).toEqual(['warn bridge gone: the guests keep running; reattaching the TAP when it is back']);
    expect(state.attaches).toBe(0);
    state.bridge = true;
    fire();
    await sleep(5);
    expect(state.master).toBe('br0');
    expect(state.attaches).toBe(1);
    expect(log.lines[1]).toBe('info bridge back: TAP reattached');
    stop();
    expect(unsubscribed).toBe(true);
  });
});
