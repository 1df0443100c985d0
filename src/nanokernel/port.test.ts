// A port on its own: its address set never holds the unspecified addresses, its counters follow
// its queues, it tells the arbiter once when its TX queue stops being empty, and a flush empties
// both queues through the caller's drop path and clears its TX state.
import { describe, expect, it } from 'vitest';
import { parseIpv4, parseIpv6, parseMac } from '../wire/index.js';
import { Irq } from './guest-interface.js';
import { PORT_DROPS, Port, type PortDropReason } from './port.js';
import { IPV6_UNSPECIFIED } from './source-guard.js';
import { Switch } from './switch.js';

const MAC = parseMac('02:4e:53:00:00:0b')!;
const IP = parseIpv4('10.77.0.11')!;

describe('Port', () => {
  it('starts with no TX state: not asking for space, not on the arbiter\'s list', () => {
    const p = new Port('gpos', MAC, [IP], false, 4, 4);
    expect(p.wantTxSpace).toBe(false);
    expect(p.txActive).toBe(false);
    expect(p.halted).toBe(false);
    expect(p.deficit).toBe(0);
  });

  it('never holds 0.0.0.0 or :: in its address set (they are always allowed, never owned)', () => {
    const p = new Port('gpos', MAC, [0, IP, IPV6_UNSPECIFIED], false, 4, 4);
    expect([...p.addresses]).toEqual([IP]);
    p.replaceAddresses([IPV6_UNSPECIFIED, 0]);
    expect([...p.addresses]).toEqual([]);
  });

  it('keeps its first IPv4 address (the source check\'s in-place comparison) in step with the set', () => {
    const p = new Port('gpos', MAC, [IPV6_UNSPECIFIED, 0, IP], false, 4, 4);
    expect(p.ip4).toBe(IP);
    p.replaceAddresses([IPV6_UNSPECIFIED, 0]);
    expect(p.ip4).toBe(-1); // 0.0.0.0 is never an address the port holds
    p.replaceAddresses([parseIpv6('fe80::1')!, IP + 1]);
    expect(p.ip4).toBe(IP + 1);
  });

  it('counts frames and bytes in, frames queued out, and raises its line per delivered frame', () => {
    const p = new Port('gpos', MAC, [IP], false, 2, 2);
    const lines: number[] = [];
    p.line = { raise: (l) => lines.push(l) };
    expect(p.deliver(new Uint8Array(60))).toBe(true);
    expect(p.deliver(new Uint8Array(100))).toBe(true);
    expect(p.deliver(new Uint8Array(100))).toBe(false);
    expect([p.counters.rxFrames, p.counters.rxBytes]).toEqual([2, 160]);
    expect(lines).toEqual([Irq.NetRx, Irq.NetRx]);
    expect(p.enqueueTx(new Uint8Array(60))).toBe(true);
    expect(p.enqueueTx(new Uint8Array(60))).toBe(true);
    expect(p.enqueueTx(new Uint8Array(60))).toBe(false);
    expect(p.counters.txQueued).toBe(2);
  });

  it('tells the arbiter only when its TX queue goes from empty to non-empty', () => {
    const p = new Port('gpos', MAC, [IP], false, 4, 4);
    let told = 0;
    p.onTxActive = () => told++;
    p.enqueueTx(new Uint8Array(60));
    p.enqueueTx(new Uint8Array(60));
    expect(told).toBe(1);
    p.tx.shift();
    p.tx.shift();
    p.enqueueTx(new Uint8Array(60));
    expect(told).toBe(2);
  });

  it('flushes both queues through the drop path and forgets its TX credit and request', () => {
    const p = new Port('gpos', MAC, [IP], false, 4, 4);
    p.deliver(new Uint8Array(60));
    p.enqueueTx(new Uint8Array(61));
    p.enqueueTx(new Uint8Array(62));
    p.deficit = 500;
    p.wantTxSpace = true;
    const dropped: string[] = [];
    p.flush((reason, f) => dropped.push(`${reason} ${f.length}`));
    expect(dropped).toEqual(['rxFlushed 60', 'txFlushed 61', 'txFlushed 62']);
    expect([p.rx.length, p.tx.length, p.deficit, p.wantTxSpace]).toEqual([0, 0, 0, false]);
  });

  it('every per-port drop reason is counted on the port as well as on the switch', () => {
    const reasons: PortDropReason[] = ['rxSpoofedMac', 'rxSpoofedIp', 'rxQueueFull', 'rxHalted', 'rxFlushed', 'txQueueFull', 'txSpoofedMac', 'txSpoofedIp', 'txMalformed', 'txFlushed'];
    expect([...PORT_DROPS].sort()).toEqual([...reasons].sort());
    const sw = new Switch();
    const p = new Port('gpos', MAC, [IP], false, 4, 4);
    sw.add(p);
    for (const r of reasons) sw.drop(r, new Uint8Array(60), p);
    for (const r of reasons) expect([r, p.counters[r], sw.counters[r]]).toEqual([r, 1, 1]);
  });
});
