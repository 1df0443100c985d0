import { describe, expect, it } from 'vitest';
import { SocketKey, SocketSet } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';
import { DispatchTable } from './dispatch.js';

class Timer implements ProtocolState {
  polls: number[] = [];
  constructor(public at: number | undefined) {}
  pollAt(): number | undefined {
    return this.at;
  }
  poll(now: number): void {
    this.polls.push(now);
  }
}

describe('SocketSet', () => {
  it('finds each state by its typed key, and refuses a second registration', () => {
    const set = new SocketSet();
    const A = new SocketKey<Timer>('a');
    const a = set.add(A, new Timer(5));
    expect(set.get(A)).toBe(a);
    expect(set.require(A)).toBe(a);
    expect(set.get(new SocketKey<Timer>('b'))).toBeUndefined();
    expect(() => set.require(new SocketKey<Timer>('b'))).toThrow(/b not installed/);
    expect(() => set.add(A, new Timer(1))).toThrow(/a already registered/);
    expect(set.names()).toEqual(['a']);
  });

  it('pollAt is the earliest timer of any state; poll runs every state', () => {
    const set = new SocketSet();
    expect(set.pollAt()).toBeUndefined();
    const a = set.add(new SocketKey<Timer>('a'), new Timer(undefined));
    expect(set.pollAt()).toBeUndefined();
    const b = set.add(new SocketKey<Timer>('b'), new Timer(30));
    const c = set.add(new SocketKey<Timer>('c'), new Timer(20));
    expect(set.pollAt()).toBe(20);
    c.at = undefined;
    expect(set.pollAt()).toBe(30);
    b.at = 40;
    a.at = 40;
    expect(set.pollAt()).toBe(40);
    set.poll(99);
    expect([a.polls, b.polls, c.polls]).toEqual([[99], [99], [99]]);
  });
});

describe('DispatchTable', () => {
  it('keeps one handler per number, in registration order, and names what it dispatches in errors', () => {
    const t = new DispatchTable<string>('EtherType');
    t.register(0x0806, 'arp');
    t.register(0x0800, 'ipv4');
    expect(t.get(0x0800)).toBe('ipv4');
    expect(t.get(0x86dd)).toBeUndefined();
    expect(t.numbers()).toEqual([0x0806, 0x0800]);
    expect(() => t.register(0x0800, 'again')).toThrow('EtherType 2048 already has a handler');
    expect(t.get(0x0800)).toBe('ipv4');
  });
});
