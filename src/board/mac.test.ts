// Derived guest MACs: stable for one identity, locally administered and unicast, different per
// machine and per guest; the config uses them for guests without a MAC and keeps configured ones.
import { describe, expect, it } from 'vitest';
import { formatMac } from '../wire/address.js';
import { configFromJson } from './config.js';
import { FIXED_MAC_BASE, deriveGuestMac, fnv1a64 } from './mac.js';

const LOCAL = 0x02;
const GROUP = 0x01;
const firstOctet = (mac: number): number => Math.floor(mac / 0x100_0000_0000);

describe('deriveGuestMac', () => {
  it('is FNV-1a 64 (the published test vectors)', () => {
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
  });

  it('is the same for the same machine and guest, on every call', () => {
    expect(deriveGuestMac('host-a\0tap:nstap0', 'rtos')).toBe(deriveGuestMac('host-a\0tap:nstap0', 'rtos'));
  });

  it('is a locally administered unicast 48-bit address, never zero, over many identities', () => {
    for (let i = 0; i < 2000; i++) {
      const mac = deriveGuestMac(`machine-${i}`, i % 2 ? 'rtos' : 'gpos');
      expect(Number.isInteger(mac) && mac > 0 && mac <= 0xffff_ffff_ffff).toBe(true);
      expect(firstOctet(mac) & LOCAL).toBe(LOCAL);
      expect(firstOctet(mac) & GROUP).toBe(0);
    }
  });

  it('differs per machine and per guest (no collision among 2000 machines x 2 guests)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) for (const g of ['rtos', 'gpos']) seen.add(deriveGuestMac(`machine-${i}`, g));
    expect(seen.size).toBe(4000);
    expect(deriveGuestMac('a\0tap:nstap0', 'rtos')).not.toBe(deriveGuestMac('b\0tap:nstap0', 'rtos'));
    expect(deriveGuestMac('a\0tap:nstap0', 'rtos')).not.toBe(deriveGuestMac('a\0tap:nstap1', 'rtos'));
    // The separator keeps "ab"+"c" and "a"+"bc" apart.
    expect(deriveGuestMac('ab', 'c')).not.toBe(deriveGuestMac('a', 'bc'));
  });
});

describe('MACs in the config', () => {
  it('a guest without a MAC gets one derived from machineId and the link; a configured MAC is kept', () => {
    const cfg = configFromJson({ machineId: 'host-a', guests: [{ name: 'rtos', ipv4: '10.77.0.10/24' }, { name: 'gpos', mac: '02:00:00:00:00:0b', ipv4: '10.77.0.11/24' }] });
    expect(cfg.guests[0]!.mac).toBe(deriveGuestMac('host-a\0tap:nstap0', 'rtos'));
    expect(cfg.guests[0]!.macDerived).toBe(true);
    expect([formatMac(cfg.guests[1]!.mac), cfg.guests[1]!.macDerived]).toEqual(['02:00:00:00:00:0b', false]);
    const other = configFromJson({ machineId: 'host-b' });
    const same = configFromJson({ machineId: 'host-a' });
    expect(other.guests[0]!.mac).not.toBe(same.guests[0]!.mac);
    expect(configFromJson({ machineId: 'host-a' }).guests.map((g) => g.mac)).toEqual(same.guests.map((g) => g.mac));
    const vx = configFromJson({ machineId: 'host-a', link: 'vxlan://192.0.2.1?vni=7&local=192.0.2.2:4789' });
    expect(vx.guests[0]!.mac).toBe(deriveGuestMac('host-a\0vxlan:7@192.0.2.2:4789', 'rtos'));
  });

  it('without an identity (library use, tests) or for capture replay: the fixed defaults 02:4e:53:00:00:0a, :0b', () => {
    expect(configFromJson({}).guests.map((g) => formatMac(g.mac))).toEqual(['02:4e:53:00:00:0a', '02:4e:53:00:00:0b']);
    const replay = configFromJson({ machineId: 'host-a', link: 'pcap:in.pcap' });
    expect(replay.guests.map((g) => g.mac)).toEqual([FIXED_MAC_BASE, FIXED_MAC_BASE + 1]);
    expect(replay.addressProbe).toBe(false); // replay takes its addresses at once ...
    expect(configFromJson({ link: 'pcap:in.pcap', addressProbe: 'rfc' }).addressProbe).toEqual({}); // ... unless asked
    expect(configFromJson({}).addressProbe).toEqual({});
  });
});
