import { describe, expect, it } from 'vitest';
import { StrictPriority, WeightedShare, DRR_QUANTUM_BYTES, makeTxPolicy } from './arbiter.js';
import { Port } from './port.js';
import { TokenBucket } from './token-bucket.js';

function port(name: string, primary: boolean, weight = 1, bucket?: TokenBucket, queue = 100_000): Port {
  return new Port(name, name.length, undefined, primary, 4, queue, weight, bucket);
}

function fill(p: Port, n: number, len: number): void {
  for (let i = 0; i < n; i++) p.enqueueTx(new Uint8Array(len));
}

/** Drain `frames` selections; returns bytes sent per port name. */
function drain(policy: { select(now: number): Port | undefined }, frames: number, now = 0): Map<string, number> {
  const bytes = new Map<string, number>();
  for (let i = 0; i < frames; i++) {
    const p = policy.select(now);
    if (!p) break;
    const f = p.tx.shift()!;
    p.bucket?.consume(f.length);
    bytes.set(p.name, (bytes.get(p.name) ?? 0) + f.length);
  }
  return bytes;
}

describe('StrictPriority', () => {
  it('serves the primary first even when the secondary queued earlier', () => {
    const rtos = port('rtos', true);
    const gpos = port('gpos', false);
    const policy = new StrictPriority([rtos, gpos]);
    fill(gpos, 3, 100);
    fill(rtos, 2, 100);
    expect([policy.select(0), (rtos.tx.shift(), policy.select(0))]).toEqual([rtos, rtos]);
    rtos.tx.shift();
    expect(policy.select(0)).toBe(gpos);
  });

  it('returns nothing when every queue is empty', () => {
    const policy = new StrictPriority([port('rtos', true), port('gpos', false)]);
    expect(policy.select(0)).toBeUndefined();
  });
});

describe('WeightedShare (deficit round robin by bytes)', () => {
  it('splits bytes 3:1 between saturated ports, whatever their frame sizes', () => {
    const a = port('a', true, 3);
    const b = port('b', false, 1);
    fill(a, 20_000, 1500);
    fill(b, 60_000, 200); // small frames must not buy b a larger share
    const bytes = drain(new WeightedShare([a, b]), 20_000);
    const share = bytes.get('a')! / (bytes.get('a')! + bytes.get('b')!);
    expect(share).toBeGreaterThan(0.74);
    expect(share).toBeLessThan(0.76);
  });

  it('gives an idle port no banked credit when it wakes up', () => {
    const a = port('a', false);
    const b = port('b', false);
    const policy = new WeightedShare([a, b]);
    fill(a, 100, 1000);
    drain(policy, 50);
    expect(b.deficit).toBe(0);
    fill(b, 100, 1000);
    const bytes = drain(policy, 40);
    // After b joins, the two alternate: neither gets more than one quantum ahead.
    expect(Math.abs(bytes.get('a')! - bytes.get('b')!)).toBeLessThanOrEqual(DRR_QUANTUM_BYTES);
  });

  it('lets a lone busy port use the whole link', () => {
    const a = port('a', false, 1);
    const b = port('b', false, 9);
    fill(a, 10, 1000);
    expect(drain(new WeightedShare([a, b]), 100).get('a')).toBe(10_000);
  });

  it('refuses a non-positive weight', () => {
    expect(() => new WeightedShare([port('a', false, 0)])).toThrow(/weight/);
  });
});

describe('TokenBucket rate limit', () => {
  it('holds a port to its rate over virtual time', () => {
    const bucket = new TokenBucket(8_000_000, 3000, 0); // 1 MB/s, 3000-byte burst
    const limited = port('gpos', false, 1, bucket);
    const policy = new StrictPriority([port('rtos', true), limited]);
    fill(limited, 10_000, 1000);
    let sent = 0;
    for (let now = 0; now <= 1_000_000; now += 100) sent += drain(policy, 1000, now).get('gpos') ?? 0;
    // 1 s at 1 MB/s plus the initial burst, to within one frame.
    expect(sent).toBeGreaterThanOrEqual(1_000_000);
    expect(sent).toBeLessThanOrEqual(1_000_000 + 3000 + 1000);
    expect(limited.counters.txRateLimited).toBeGreaterThan(0);
  });

  it('says when the next frame may go', () => {
    const bucket = new TokenBucket(8_000_000, 1000, 0);
    expect(bucket.allows(1000, 0)).toBe(true);
    bucket.consume(1000);
    expect(bucket.allows(500, 0)).toBe(false);
    expect(bucket.readyAt(500, 0)).toBeCloseTo(500, 6); // 500 bytes at 1 byte/µs
    expect(bucket.allows(500, 500)).toBe(true);
  });
});

describe('active list: the cost per frame does not grow with the number of ports', () => {
  /** Ports whose queues count every look at them. */
  function counted(n: number): { ports: Port[]; looks: () => number } {
    let looks = 0;
    const ports = Array.from({ length: n }, (_, i) => {
      const p = new Port(`p${i}`, i + 1, undefined, i === 0, 4, 1000, 1);
      const peek = p.tx.peek.bind(p.tx);
      p.tx.peek = () => {
        looks++;
        return peek();
      };
      return p;
    });
    return { ports, looks: () => looks };
  }

  for (const Policy of [StrictPriority, WeightedShare]) {
    it(`${Policy.name}: serving one busy port among 256 looks at the same number of queues as among 2`, () => {
      const cost = (n: number): number => {
        const { ports, looks } = counted(n);
        const policy = new Policy(ports);
        const busy = ports[n - 1]!;
        fill(busy, 100, 1000);
        const before = looks();
        expect(drain(policy, 100).get(busy.name)).toBe(100_000);
        expect(policy.select(0)).toBeUndefined();
        expect(policy.pending(0)).toBe(false);
        return looks() - before;
      };
      expect(cost(256)).toBe(cost(2));
    });
  }

  it('every port of a policy shares one listener (no closure per port to touch when it wakes)', () => {
    const ports = [port('rtos', true), port('a', false), port('b', false)];
    new WeightedShare(ports);
    expect(ports[0]!.onTxActive).toBeTypeOf('function');
    expect(ports[1]!.onTxActive).toBe(ports[0]!.onTxActive);
    expect(ports[2]!.onTxActive).toBe(ports[0]!.onTxActive);
  });

  it('a port that empties leaves the list and comes back at the tail when it queues again', () => {
    const a = port('a', false);
    const b = port('b', false);
    const policy = new WeightedShare([a, b]);
    fill(a, 1, 100);
    expect(policy.select(0)).toBe(a);
    a.tx.shift();
    expect(policy.select(0)).toBeUndefined();
    expect(a.txActive).toBe(false);
    fill(b, 1, 100);
    fill(a, 1, 100);
    expect(policy.select(0)).toBe(b);
  });

  it('pending and nextReadyAt look only at rate-limited active ports', () => {
    const bucket = new TokenBucket(8_000_000, 1000, 0);
    const limited = port('lim', false, 1, bucket);
    const free = port('free', false);
    const policy = new WeightedShare([limited, free]);
    expect(policy.pending(0)).toBe(false);
    fill(limited, 2, 1000);
    expect(policy.pending(0)).toBe(true);
    expect(policy.select(0)).toBe(limited);
    limited.bucket!.consume(limited.tx.shift()!.length);
    expect(policy.pending(0)).toBe(false); // held by its rate limit
    expect(policy.nextReadyAt(0)).toBeCloseTo(1000, 6);
    fill(free, 1, 100);
    expect(policy.pending(0)).toBe(true);
  });
});

describe('policies: the corners', () => {
  it('makeTxPolicy builds the policy it is named for', () => {
    const ports = [port('rtos', true), port('gpos', false)];
    expect(makeTxPolicy('strict', ports)).toBeInstanceOf(StrictPriority);
    expect(makeTxPolicy('weighted', ports)).toBeInstanceOf(WeightedShare);
    expect(makeTxPolicy('strict', ports).name).toBe('strict');
    expect(makeTxPolicy('weighted', ports).name).toBe('weighted');
  });

  it('visits a light port often enough to gather one quantum per select (weight 0.2 beside an idle 1)', () => {
    const light = port('light', false, 0.2);
    const heavy = port('heavy', false, 1);
    const policy = new WeightedShare([light, heavy]);
    fill(light, 1, 1500); // needs five visits of 0.2 x 1522 bytes
    expect(policy.select(0)).toBe(light);
  });

  it('a port that queues again while still on the list keeps its place and its credit', () => {
    const a = port('a', false);
    const b = port('b', false);
    const policy = new WeightedShare([a, b]);
    fill(a, 1, 100);
    expect(a.txActive).toBe(true);
    expect(policy.select(0)).toBe(a);
    a.tx.shift();
    expect(a.deficit).toBe(DRR_QUANTUM_BYTES - 100);
    fill(a, 1, 100);
    expect(a.deficit).toBe(DRR_QUANTUM_BYTES - 100);
    expect(policy.select(0)).toBe(a);
    a.tx.shift();
    expect(policy.select(0)).toBeUndefined();
  });

  it('a rate-limited port that drained is neither pending nor ready, and leaves the free ports pending', () => {
    const limited = port('lim', false, 1, new TokenBucket(8_000_000, 100_000, 0));
    const free = port('free', false);
    const policy = new WeightedShare([limited, free]);
    fill(limited, 1, 1000);
    expect(policy.select(0)).toBe(limited);
    limited.tx.shift(); // empty, but still the current port until the next select
    expect(policy.pending(0)).toBe(false);
    expect(policy.nextReadyAt(0)).toBe(Infinity);
    expect(policy.select(0)).toBeUndefined(); // found empty: off the list
    fill(free, 1, 100);
    expect(policy.pending(0)).toBe(true);
    expect(policy.select(0)).toBe(free);
  });

  it('strict: a primary with frames is pending, one held by its own rate limit is not, and says when it may go', () => {
    const rtos = port('rtos', true, 1, new TokenBucket(8_000_000, 1000, 0));
    const gpos = port('gpos', false);
    const policy = new StrictPriority([rtos, gpos]);
    expect(policy.pending(0)).toBe(false);
    expect(policy.nextReadyAt(0)).toBe(Infinity);
    fill(rtos, 2, 1000);
    expect(policy.pending(0)).toBe(true);
    expect(policy.nextReadyAt(0)).toBe(0);
    expect(policy.select(0)).toBe(rtos);
    rtos.bucket!.consume(rtos.tx.shift()!.length);
    expect(policy.pending(0)).toBe(false);
    expect(policy.nextReadyAt(0)).toBeCloseTo(1000, 6);
    expect(policy.select(0)).toBeUndefined();
    expect(policy.pending(1000)).toBe(true);
  });

  it('strict: an unlimited primary with frames is pending, and is never put on the DRR list', () => {
    const rtos = port('rtos', true);
    const gpos = port('gpos', false);
    const policy = new StrictPriority([rtos, gpos]);
    fill(rtos, 1, 100);
    expect(policy.pending(0)).toBe(true);
    expect(rtos.txActive).toBe(false);
    expect(policy.nextReadyAt(0)).toBe(Infinity);
  });
});
