// The interface's shared state on its own: configuration defaults and every refusal (a guest's
// config is typed by a person: a bad value must be named, not half-work), the subnet's
// broadcast and martian sources, the address set published to the device, transmit counting,
// and the seeded random source that spreads probe times between guests.
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../wire/index.js';
import type { Ipv4 } from '../wire/index.js';
import { InterfaceInner } from './iface.js';
import type { NetConfig, NetDevice } from './iface.js';
import { DEFAULT_IPV6_CONFIG } from './ipv6-config.js';
import { OUR_IP, OUR_MAC, RecordingDevice } from './testing.js';

const ip = (s: string): Ipv4 => parseIpv4(s)!;
const base: NetConfig = { mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 } };
const inner = (extra: Partial<NetConfig> = {}, dev: NetDevice = new RecordingDevice(), now = 0): InterfaceInner =>
  new InterfaceInner({ ...base, ...extra }, dev, () => now);

describe('NetConfig defaults', () => {
  it('fills every unset field with its documented default', () => {
    const c = inner().cfg;
    expect(c).toEqual({
      mac: OUR_MAC,
      ipv4: { addr: OUR_IP, prefixLen: 24 },
      gateway: undefined,
      arpTtlUs: 60_000_000,
      arpRetryUs: 1_000_000,
      arpMaxRequests: 3,
      arpPendingMax: 4,
      arpPendingAddrMax: 16,
      arpCacheMax: 256,
      mtu: 1500,
      fragMaxDatagrams: 16,
      fragMaxBytes: 256 * 1024,
      fragTimeoutUs: 30_000_000,
      nd: DEFAULT_IPV6_CONFIG,
      icmpErrorBurst: 10,
      icmpErrorIntervalUs: 100_000,
    });
  });

  it('keeps what is given, nd fields merged over the defaults', () => {
    const c = inner({ gateway: ip('10.77.0.1'), mtu: 9000, nd: { slaacMax: 2 }, icmpErrorIntervalUs: 5 }).cfg;
    expect(c.gateway).toBe(ip('10.77.0.1'));
    expect(c.mtu).toBe(9000);
    expect(c.nd).toEqual({ ...DEFAULT_IPV6_CONFIG, slaacMax: 2 });
    expect(c.icmpErrorIntervalUs).toBe(5);
  });
});

describe('NetConfig refusals', () => {
  const refused = (extra: Partial<NetConfig>, msg: string): void => {
    expect(() => inner(extra)).toThrow(new RangeError(`NetConfig: ${msg}`));
  };

  it('needs a unicast 48-bit MAC', () => {
    for (const mac of [0, -2, 0x1_0000_0000_0000, 2.5, 0x01_00_5e_00_00_01, 0xff_ff_ff_ff_ff_ff]) refused({ mac }, 'mac must be a unicast MAC');
    expect(inner({ mac: 0x02_00_00_00_00_02 }).mac).toBe(0x02_00_00_00_00_02);
    expect(inner({ mac: 0xfe_ff_ff_ff_ff_ff }).mac).toBe(0xfe_ff_ff_ff_ff_ff);
  });

  it('needs a prefix length 0..32', () => {
    for (const prefixLen of [-1, 33, 24.5]) refused({ ipv4: { addr: OUR_IP, prefixLen } }, 'prefixLen must be 0..32');
    expect(inner({ ipv4: { addr: OUR_IP, prefixLen: 0 } }).cfg.ipv4.prefixLen).toBe(0);
    expect(inner({ ipv4: { addr: OUR_IP, prefixLen: 32 } }).cfg.ipv4.prefixLen).toBe(32);
  });

  it('needs positive timers', () => {
    for (const arpRetryUs of [0, -1, NaN]) refused({ arpRetryUs }, 'arpRetryUs must be > 0');
    for (const icmpErrorIntervalUs of [0, -1, NaN]) refused({ icmpErrorIntervalUs }, 'icmpErrorIntervalUs must be > 0');
    expect(inner({ arpRetryUs: 1, icmpErrorIntervalUs: 1 }).cfg.arpRetryUs).toBe(1);
    for (const k of ['retransUs', 'neighbourTtlUs', 'rsIntervalUs'] as const) {
      refused({ nd: { [k]: 0 } }, 'nd timers must be > 0');
      refused({ nd: { [k]: NaN } }, 'nd timers must be > 0');
      expect(inner({ nd: { [k]: 1 } }).cfg.nd[k]).toBe(1);
    }
  });

  it('needs counts that are integers of at least 1', () => {
    for (const k of ['arpMaxRequests', 'arpPendingMax', 'arpPendingAddrMax', 'icmpErrorBurst'] as const) {
      refused({ [k]: 0 }, `${k} must be an integer >= 1`);
      refused({ [k]: 1.5 }, `${k} must be an integer >= 1`);
      expect(inner({ [k]: 1 }).cfg[k]).toBe(1);
    }
    for (const k of ['dadTransmits', 'neighbourMax', 'ndMaxSolicits', 'slaacMax', 'prefixMax'] as const) {
      refused({ nd: { [k]: 0 } }, `nd.${k} must be an integer >= 1`);
      refused({ nd: { [k]: 2.5 } }, `nd.${k} must be an integer >= 1`);
      expect(inner({ nd: { [k]: 1 } }).cfg.nd[k]).toBe(1);
    }
  });

  it('needs an MTU of 68..9000', () => {
    for (const mtu of [67, 9001, 1500.5]) refused({ mtu }, 'mtu must be 68..9000');
    expect(inner({ mtu: 68 }).cfg.mtu).toBe(68);
    expect(inner({ mtu: 9000 }).cfg.mtu).toBe(9000);
  });
});

describe('addresses', () => {
  it('has a directed broadcast down to /30, none for /31 and /32', () => {
    expect(inner({ ipv4: { addr: ip('10.0.0.1'), prefixLen: 30 } }).subnetBroadcast).toBe(ip('10.0.0.3'));
    expect(inner({ ipv4: { addr: ip('10.0.0.1'), prefixLen: 31 } }).subnetBroadcast).toBeUndefined();
    expect(inner({ ipv4: { addr: ip('10.0.0.1'), prefixLen: 32 } }).subnetBroadcast).toBeUndefined();
    const i = inner();
    expect(i.isBroadcast(ip('10.77.0.255'))).toBe(true);
    expect(i.isBroadcast(ip('255.255.255.255'))).toBe(true);
    expect(i.isBroadcast(ip('10.77.0.254'))).toBe(false);
  });

  it('names why a source is martian', () => {
    const i = inner();
    expect(i.martianSrc(0)).toBe('src-unspecified');
    expect(i.martianSrc(ip('255.255.255.255'))).toBe('src-broadcast');
    expect(i.martianSrc(ip('10.77.0.255'))).toBe('src-broadcast');
    expect(i.martianSrc(OUR_IP)).toBe('src-self');
    expect(i.martianSrc(ip('127.0.0.1'))).toBe('src-loopback');
    expect(i.martianSrc(ip('224.0.0.1'))).toBe('src-multicast');
    expect(i.martianSrc(ip('239.255.255.255'))).toBe('src-multicast');
    expect(i.martianSrc(ip('240.0.0.1'))).toBe('src-reserved');
    expect(i.martianSrc(ip('0.1.2.3'))).toBe('src-reserved');
    expect(i.martianSrc(ip('223.255.255.255'))).toBeUndefined();
    expect(i.martianSrc(ip('10.77.0.1'))).toBeUndefined();
  });

  it('is 0.0.0.0 while tentative, and publishes only what it may send from', () => {
    const dev = new RecordingDevice();
    const i = inner({ tentative: true }, dev);
    expect(i.addr).toBe(0);
    i.addressSources.push(() => [ip('10.9.9.9')]);
    expect(i.publishAddresses()).toBe(true);
    expect(dev.addresses).toEqual([ip('10.9.9.9')]);
    i.tentative = false;
    expect(i.publishAddresses()).toBe(true);
    expect(dev.addresses).toEqual([OUR_IP, ip('10.9.9.9')]);
    dev.refuse.add(ip('10.9.9.9'));
    expect(i.publishAddresses()).toBe(false);
  });

  it('publishes nothing to a device that does not take an address set, and says all is well', () => {
    const frames: Uint8Array[] = [];
    const i = inner({}, { transmit: (f) => frames.push(f) > 0 });
    expect(i.publishAddresses()).toBe(true);
  });
});

describe('transmit', () => {
  it('counts frames and bytes handed over, and a refusal as tx-full', () => {
    const dev = new RecordingDevice();
    const i = inner({}, dev);
    expect(i.transmit(new Uint8Array(60))).toBe(true);
    expect(i.transmit(new Uint8Array(100))).toBe(true);
    expect(i.counters.txFrames).toBe(2);
    expect(i.counters.txBytes).toBe(160);
    dev.accept = false;
    expect(i.transmit(new Uint8Array(60))).toBe(false);
    expect(i.counters.txDropped['tx-full']).toBe(1);
    expect(i.counters.txFrames).toBe(2);
    expect(i.counters.txBytes).toBe(160);
  });

  it('numbers IPv4 idents 0, 1, ... and wraps at 16 bits', () => {
    const i = inner();
    expect([i.nextIdent(), i.nextIdent()]).toEqual([0, 1]);
    for (let k = 2; k < 0xffff; k++) i.nextIdent();
    expect([i.nextIdent(), i.nextIdent()]).toEqual([0xffff, 0]);
  });
});

describe('random', () => {
  it("is Marsaglia's xorshift32, seeded from the MAC's upper 32 bits when the rest and the clock are 0", () => {
    // 2463534242 is the seed of Marsaglia's example ("Xorshift RNGs", 2003); one xorshift32 step
    // with shifts 13, 17, 5 takes it to 723471715.
    const i = inner({ mac: 0x92d6_8ca2_0000 });
    expect(i.random() * 0x1_0000_0000).toBe(723471715);
    const r = i.random();
    expect(r).toBeGreaterThanOrEqual(0);
    expect(r).toBeLessThan(1);
  });

  it('differs between guests whose MACs differ only in the low bits, and with the boot time', () => {
    const a = inner({ mac: 0x02_00_00_00_00_01 }).random();
    const b = inner({ mac: 0x02_00_00_00_00_02 }).random();
    const c = inner({ mac: 0x02_00_00_00_00_01 }, new RecordingDevice(), 12345.7).random();
    expect(new Set([a, b, c]).size).toBe(3);
    expect(inner({ mac: 0x02_00_00_00_00_01 }).random()).toBe(a);
  });

  it('never starts from the all-zero state, which xorshift cannot leave', () => {
    // Upper 32 bits 0x0200_0000, low 16 bits 0, clock 0x0200_0000: the mix is 0.
    const i = inner({ mac: 0x0200_0000_0000 }, new RecordingDevice(), 0x0200_0000);
    const seen = new Set([i.random(), i.random(), i.random()]);
    expect(seen.size).toBe(3);
    expect(seen.has(0)).toBe(false);
  });
});
