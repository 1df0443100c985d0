// The switch's port table: routing by destination MAC, and the address sets that the source
// checks and the receive-side identity checks read.
import { describe, expect, it } from 'vitest';
import { DROP_REASONS, DROP_TEXT, Switch } from './switch.js';
import { Port } from './port.js';
import { MAC_BROADCAST, parseIpv6, parseMac, writeMac } from '../wire/address.js';

const A = parseMac('02:4e:53:00:00:0a')!;
const B = parseMac('02:4e:53:00:00:0b')!;
const GROUP = parseMac('01:00:5e:00:00:fb')!; // mDNS's IPv4 multicast MAC

function frameTo(dst: number): Uint8Array {
  const f = new Uint8Array(60);
  writeMac(f, 0, dst);
  return f;
}

function setup(): { demux: Switch; a: Port; b: Port } {
  const demux = new Switch();
  const a = new Port('rtos', A, undefined, true, 4, 4);
  const b = new Port('gpos', B, undefined, false, 4, 4);
  demux.add(a);
  demux.add(b);
  return { demux, a, b };
}

describe('Switch routing', () => {
  it('sends unicast to its owner only', () => {
    const { demux, a, b } = setup();
    expect(demux.route(frameTo(A))).toBe(a);
    expect(demux.route(frameTo(B))).toBe(b);
  });

  it('sends broadcast to every port', () => {
    const { demux, a, b } = setup();
    expect(demux.route(frameTo(MAC_BROADCAST))).toEqual([a, b]);
  });

  it('sends multicast to subscribers only, and drops a group nobody joined', () => {
    const { demux, b } = setup();
    expect(demux.route(frameTo(GROUP))).toBe('rxNoSubscriber');
    demux.subscribe(b, GROUP);
    expect(demux.route(frameTo(GROUP))).toEqual([b]);
    demux.unsubscribe(b, GROUP);
    expect(demux.route(frameTo(GROUP))).toBe('rxNoSubscriber');
  });

  it('reports unknown unicast for the caller to drop and count', () => {
    const { demux } = setup();
    expect(demux.route(frameTo(parseMac('02:00:00:00:00:99')!))).toBe('rxUnknownUnicast');
  });

  it('refuses a second port with the same MAC', () => {
    const { demux } = setup();
    expect(() => demux.add(new Port('dup', A, undefined, false, 4, 4))).toThrow(/already/);
  });
});

describe('Switch address sets and the drop path', () => {
  const IP_A = 0x0a4d000a;
  const IP_B = 0x0a4d000b;
  const V6 = parseIpv6('::1')!;

  function withAddrs(): { sw: Switch; a: Port; b: Port } {
    const sw = new Switch();
    const a = new Port('rtos', A, [IP_A], true, 4, 4);
    const b = new Port('gpos', B, [IP_B], false, 4, 4);
    sw.add(a);
    sw.add(b);
    return { sw, a, b };
  }

  it('knows which port holds an address', () => {
    const { sw, a, b } = withAddrs();
    expect(sw.ownerOfAddr(IP_A)).toBe(a);
    expect(sw.ownerOfAddr(IP_B)).toBe(b);
    expect(sw.ownerOfAddr(0x0a4d0001)).toBeUndefined();
  });

  it('refuses (and counts) an address another port holds, leaving the set unchanged', () => {
    const { sw, a, b } = withAddrs();
    expect(sw.setAddresses(b, [IP_B, IP_A])).toBe(false);
    expect([...b.addresses]).toEqual([IP_B]);
    expect(sw.ownerOfAddr(IP_A)).toBe(a);
    expect(sw.counters.addressConflicts).toBe(1);
    expect(b.counters.addressConflicts).toBe(1);
    expect(a.counters.addressConflicts).toBe(0);
  });

  it('replaces a set, frees the old addresses for others, and takes IPv6 too', () => {
    const { sw, a, b } = withAddrs();
    expect(sw.setAddresses(b, [0x0a4d0063, V6])).toBe(true);
    expect([...b.addresses]).toEqual([0x0a4d0063, V6]);
    expect(sw.ownerOfAddr(IP_B)).toBeUndefined();
    expect(sw.ownerOfAddr(V6)).toBe(b);
    expect(sw.setAddresses(a, [IP_A, IP_B])).toBe(true);
    expect(sw.ownerOfAddr(IP_B)).toBe(a);
    expect(sw.setAddresses(a, [IP_A, IP_B])).toBe(true); // its own addresses again: no conflict
    expect(sw.counters.addressConflicts).toBe(0);
  });

  it('refuses a port whose MAC or address is already on the switch', () => {
    const { sw } = withAddrs();
    expect(() => sw.add(new Port('x', 0x020000000001, [IP_A], false, 4, 4))).toThrow(/address/);
  });

  it('counts a drop on the switch and on its port, and shows it to the observer by name', () => {
    const { sw, b } = withAddrs();
    const seen: Array<[string, string | undefined]> = [];
    sw.observer = { drop: (reason, _f, port) => seen.push([reason, port]) };
    const f = frameTo(B);
    sw.drop('txSpoofedIp', f, b);
    sw.drop('rxUnknownUnicast', f);
    expect(seen).toEqual([['txSpoofedIp', 'gpos'], ['rxUnknownUnicast', undefined]]);
    expect([sw.counters.txSpoofedIp, b.counters.txSpoofedIp, sw.counters.rxUnknownUnicast]).toEqual([1, 1, 1]);
  });

  it('has a human text for every reason', () => {
    for (const r of DROP_REASONS) expect(DROP_TEXT[r].length).toBeGreaterThan(0);
    expect(DROP_TEXT.rxSpoofedMac).toMatch(/spoofed source MAC/);
    expect(DROP_TEXT.rxQueueFull).toBe('queue full');
  });
});

describe('Switch edges', () => {
  it('a port drop without a port is counted on the switch only; a switch-only reason never lands on a port', () => {
    const sw = new Switch();
    const a = new Port('rtos', A, undefined, true, 4, 4);
    sw.add(a);
    sw.drop('rxQueueFull', frameTo(A));
    sw.drop('rxUnknownUnicast', frameTo(A), a);
    expect(sw.counters.rxQueueFull).toBe(1);
    expect(sw.counters.rxUnknownUnicast).toBe(1);
    expect(Object.keys(a.counters)).not.toContain('rxUnknownUnicast');
  });

  it('never lets a port own 0.0.0.0: two ports may both list it', () => {
    const { demux, a, b } = setup();
    expect(demux.setAddresses(a, [0])).toBe(true);
    expect(demux.setAddresses(b, [0])).toBe(true);
    expect(demux.ownerOfAddr(0)).toBeUndefined();
    expect(demux.counters.addressConflicts).toBe(0);
  });

  it('lists a port once in a group however often it joins, and leaving one member keeps the others', () => {
    const { demux, a, b } = setup();
    demux.subscribe(b, GROUP);
    demux.subscribe(b, GROUP);
    expect(demux.route(frameTo(GROUP))).toEqual([b]);
    demux.subscribe(a, GROUP);
    demux.unsubscribe(a, GROUP);
    expect(demux.route(frameTo(GROUP))).toEqual([b]);
    demux.unsubscribe(a, GROUP); // not a member: nothing changes
    expect(demux.route(frameTo(GROUP))).toEqual([b]);
  });

  it('unsubscribeAll leaves every group the port joined, and only its own', () => {
    const { demux, a, b } = setup();
    const OTHER = parseMac('33:33:00:00:00:01')!;
    demux.subscribe(b, GROUP);
    demux.subscribe(b, OTHER);
    demux.subscribe(a, OTHER);
    demux.unsubscribeAll(b);
    expect(b.groups.size).toBe(0);
    expect(demux.route(frameTo(GROUP))).toBe('rxNoSubscriber');
    expect(demux.route(frameTo(OTHER))).toEqual([a]);
  });
});
