import { describe, expect, it } from 'vitest';
import { FaultLink } from './fault.js';
import { MemoryLink } from './memory.js';

const frame = (i: number): Uint8Array => Uint8Array.of(i & 0xff, i >> 8);
const ids = (fs: Uint8Array[]): number[] => fs.map((f) => f[0]! | (f[1]! << 8));

function wired(opts: ConstructorParameters<typeof FaultLink>[1], now = () => 0): { fault: FaultLink; out: MemoryLink; got: Uint8Array[] } {
  const out = new MemoryLink('inner');
  const fault = new FaultLink(out, opts, now);
  const got: Uint8Array[] = [];
  fault.attach({ onFrames: (b) => void got.push(...b), onError: () => {} });
  return { fault, out, got };
}

describe('FaultLink', () => {
  it('with no faults passes every frame through in order, both ways', () => {
    const { fault, out, got } = wired({ seed: 1 });
    for (let i = 0; i < 100; i++) fault.send(frame(i));
    out.inject([frame(1), frame(2)]);
    expect(ids(out.drain())).toEqual([...Array(100).keys()]);
    expect(ids(got)).toEqual([1, 2]);
    expect(fault.faults).toEqual({ dropped: 0, duplicated: 0, reordered: 0, delayed: 0 });
  });

  it('drops about the asked share, the same frames for the same seed', () => {
    const run = (): number[] => {
      const { fault, out } = wired({ seed: 5, drop: 0.2, direction: 'tx' });
      for (let i = 0; i < 2000; i++) fault.send(frame(i));
      return ids(out.drain());
    };
    const a = run();
    expect(a.length).toBeGreaterThan(1500);
    expect(a.length).toBeLessThan(1700);
    expect(run()).toEqual(a);
  });

  it('duplicates and reorders without losing a frame', () => {
    const { fault, out } = wired({ seed: 9, duplicate: 0.1, reorder: 0.1, direction: 'tx' });
    for (let i = 0; i < 1000; i++) fault.send(frame(i));
    fault.poll(true);
    const sent = ids(out.drain());
    expect(new Set(sent).size).toBe(1000);
    expect(sent.length).toBe(1000 + fault.faults.duplicated);
    expect(fault.faults.reordered).toBeGreaterThan(50);
    expect(sent).not.toEqual([...sent].sort((x, y) => x - y));
  });

  it('delays frames on the injected clock and releases them in poll()', () => {
    let t = 0;
    const { fault, got, out } = wired({ seed: 3, delayUs: 500, direction: 'rx' }, () => t);
    out.inject([frame(7)]);
    expect(got).toEqual([]);
    expect(fault.pollAt()).toBe(500);
    t = 499;
    fault.poll();
    expect(got).toEqual([]);
    t = 500;
    fault.poll();
    expect(ids(got)).toEqual([7]);
    fault.send(frame(8)); // tx is not faulted in 'rx' mode
    expect(ids(out.drain())).toEqual([8]);
  });

  it('refuses probabilities outside 0..1', () => {
    expect(() => new FaultLink(new MemoryLink(), { seed: 1, drop: 1.5 }, () => 0)).toThrow(RangeError);
  });
});
