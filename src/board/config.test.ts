// The one path from a config document to a MachineConfig: the schema's defaults are the embedded
// default, every bad value is a ConfigError naming its field, and board/ stays pure.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIpv4Cidr, formatMac, parseIpv4 } from '../wire/address.js';
import { DEFAULT_SCHEDULER } from '../nanokernel/nanokernel.js';
import { ConfigError, configFromJson, defaultConfig, fieldName, parseLink } from './config.js';

const two = (extra: Record<string, unknown> = {}, gpos: Record<string, unknown> = {}) => ({
  guests: [
    { name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: '10.77.0.10/24' },
    { name: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: '10.77.0.11/24', ...gpos },
  ],
  ...extra,
});

function errorOf(json: unknown): string {
  try {
    configFromJson(json);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('no ConfigError');
}

describe('defaults', () => {
  it('the embedded default is the one the README and DESIGN.md promise', () => {
    const c = defaultConfig();
    expect(c.tap).toBe('nstap0');
    expect(c.hostIp && formatIpv4Cidr(c.hostIp)).toBe('10.77.0.1/24');
    expect(c.guests.map((g) => [g.name, g.os, formatMac(g.mac), formatIpv4Cidr(g.ipv4), g.weight, g.echo])).toEqual([
      ['rtos', 'rtos', '02:4e:53:00:00:0a', '10.77.0.10/24', 1, true],
      ['gpos', 'gpos', '02:4e:53:00:00:0b', '10.77.0.11/24', 1, true],
    ]);
    expect(c.guests[0]!.control).toEqual({ periodUs: 1000 });
    expect(c.guests[1]!.control).toBeUndefined();
    expect(c.scheduler).toEqual(DEFAULT_SCHEDULER);
    expect([c.capturePrecision, c.logLevel, c.txPolicy, c.lineRateBps, c.mtu, c.statsInterval]).toEqual(['us', 'info', 'strict', 0, 1500, 10]);
  });

  it('fills a partial file from the schema and converts every kind of value', () => {
    const c = configFromJson(two({ lineRate: '1.5G', scheduler: { sliceUs: 5000 }, bridge: 'br0' }, { rate: '20M', load: { dst: '10.77.0.1:9000' }, gateway: '10.77.0.1' }));
    expect(c.lineRateBps).toBe(1.5e9);
    expect(c.scheduler).toEqual({ ...DEFAULT_SCHEDULER, sliceUs: 5000 });
    expect(c.bridge).toBe('br0');
    expect(c.hostIp).toBeUndefined(); // a bridged TAP gets no address
    const g = c.guests[1]!;
    expect(g.rateBps).toBe(20e6);
    expect(g.load).toEqual({ dst: parseIpv4('10.77.0.1'), port: 9000, size: 1200 });
    expect(g.gateway).toBe(parseIpv4('10.77.0.1'));
  });

  it('null means unset', () => {
    const c = configFromJson(two({ hostIp: null, lineRate: null, capture: null }, { rate: null, gateway: null, load: null }));
    expect(c.hostIp).toBeUndefined();
    expect(c.lineRateBps).toBe(0);
    expect(c.guests[1]!.rateBps).toBeUndefined();
  });
});

describe('errors name the field', () => {
  const cases: Array<[string, unknown, string]> = [
    ['not an object', [], 'config: expected an object'],
    ['unknown key', { colour: 1 }, 'colour: unknown key (known: $schema, link, tap,'],
    ['malformed MAC', two({}, { mac: 'zz' }), 'guests[1].mac: malformed MAC "zz"'],
    ['group MAC', two({}, { mac: '03:00:00:00:00:01' }), 'guests[1].mac: MAC 03:00:00:00:00:01 is a group address'],
    ['zero MAC', two({}, { mac: '00:00:00:00:00:00' }), 'guests[1].mac: MAC 00:00:00:00:00:00 is not a usable address'],
    ['octet over 255', two({}, { ipv4: '10.77.0.300/24' }), 'guests[1].ipv4: malformed IPv4 address/prefix "10.77.0.300/24"'],
    ['prefix over 32', two({}, { ipv4: '10.77.0.11/33' }), 'guests[1].ipv4: malformed'],
    ['missing ipv4', { guests: [{ name: 'rtos', mac: '02:4e:53:00:00:0a' }] }, 'guests[0].ipv4: required'],
    ['os needed for other names', two({}, { name: 'web' }), 'guests[1].os: expected "rtos" or "gpos" (required unless'],
    ['bad os', two({}, { os: 'dos' }), 'guests[1].os: expected "rtos" or "gpos", got "dos"'],
    ['weight out of range', two({}, { weight: 0 }), 'guests[1].weight: expected a number from 0.01 to 1000, got 0'],
    ['echo not boolean', two({}, { echo: 'yes' }), 'guests[1].echo: expected true or false'],
    ['control on a gpos', two({}, { control: { periodUs: 1000 } }), 'guests[1].control: only the rtos'],
    ['telemetry port 0', { guests: [{ name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: '10.77.0.10/24', control: { telemetry: '10.77.0.1:0' } }] }, 'guests[0].control.telemetry: malformed endpoint'],
    ['rate below 1 bit/s', two({}, { rate: '0.5' }), 'guests[1].rate: rate must be at least 1 bit/s'],
    ['rate words', two({ lineRate: 'fast' }), 'lineRate: malformed rate "fast"'],
    ['scheduler type', two({ scheduler: { quantumUs: 'a' } }), 'scheduler.quantumUs: expected an integer from 10 to 1000000, got "a"'],
    ['tx policy', two({ txPolicy: 'fastest' }), 'txPolicy: expected "strict" or "weighted", got "fastest"'],
    ['long tap name', { tap: 'nstap0123456789abc' }, 'tap: malformed interface name'],
    ['too many guests', { guests: Array.from({ length: 257 }, (_, i) => ({ name: `g${i}`, os: 'gpos', mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ipv4: `10.0.${i >> 8}.${i & 255}/16` })) }, 'guests: at most 256, found 257'],
    ['no primary', { guests: [{ name: 'a', os: 'gpos', mac: '02:00:00:00:00:01', ipv4: '10.0.0.1/24' }, { name: 'b', os: 'gpos', mac: '02:00:00:00:00:02', ipv4: '10.0.0.2/24' }] }, 'guests: exactly one guest must be the primary'],
    ['two rtos and no primary named', { guests: [{ name: 'a', os: 'rtos', mac: '02:00:00:00:00:01', ipv4: '10.0.0.1/24' }, { name: 'b', os: 'rtos', mac: '02:00:00:00:00:02', ipv4: '10.0.0.2/24' }] }, 'found 0'],
    ['two primaries', two({}, { primary: true }).guests.map((g) => ({ ...g, primary: true })) && { guests: two({}, {}).guests.map((g) => ({ ...g, primary: true })) }, 'guests: exactly one guest must be the primary ("primary": true, or by default the one rtos), found 2'],
    ['one guest', { guests: [{ name: 'rtos', mac: '02:00:00:00:00:01', ipv4: '10.0.0.1/24' }] }, 'guests: need at least two guests'],
    ['duplicate name', two({}, { name: 'rtos', os: 'gpos' }), 'guests[1].name: duplicate name rtos'],
    ['duplicate MAC', two({}, { mac: '02:4E:53:00:00:0A' }), 'guests[1].mac: duplicate MAC 02:4e:53:00:00:0a (also guests[0])'],
    ['duplicate address', two({}, { ipv4: '10.77.0.10/24' }), 'guests[1].ipv4: duplicate address'],
    ['host address', two({}, { ipv4: '10.77.0.1/24' }), "guests[1].ipv4: 10.77.0.1/24 is the host side's address"],
    ['gateway off subnet', two({}, { gateway: '10.1.0.1' }), "guests[1].gateway: not in the guest's subnet"],
    ['bridge and uplink', two({ bridge: 'br0', uplink: 'eth0' }), 'uplink: --uplink makes its own bridge'],
  ];
  for (const [what, json, message] of cases) {
    it(what, () => expect(errorOf(json)).toContain(message));
  }

  it('a one-field error carries its field and problem (so cli/ can name the flag that set it)', () => {
    try {
      configFromJson(two({}, { mac: 'zz' }));
    } catch (e) {
      expect((e as ConfigError).field).toBe('guests[1].mac');
      expect((e as ConfigError).problem).toMatch(/^malformed MAC "zz"/);
    }
    expect.assertions(2);
  });

  it('field names read as the user writes them', () => {
    expect(fieldName('')).toBe('config');
    expect(fieldName('/guests/12/control/telemetry')).toBe('guests[12].control.telemetry');
    expect(fieldName('/a~1b')).toBe('a/b');
  });
});

describe('many guests', () => {
  /** n guests: the first the rtos, the rest gpos; guest i is 10.1.x.y/16 and 02:00:00:00:x:y with x.y = i + 1. */
  const many = (n: number) => ({
    guests: Array.from({ length: n }, (_, i) => ({ name: i === 0 ? 'rtos' : `g${i}`, os: i === 0 ? 'rtos' : 'gpos', mac: `02:00:00:00:${((i + 1) >> 8).toString(16).padStart(2, '0')}:${((i + 1) & 255).toString(16).padStart(2, '0')}`, ipv4: `10.1.${(i + 1) >> 8}.${(i + 1) & 255}/16` })),
  });

  it('takes 256 guests, the rtos the primary by default', () => {
    const c = configFromJson(many(256));
    expect(c.guests).toHaveLength(256);
    expect(c.guests.filter((g) => g.primary).map((g) => g.name)).toEqual(['rtos']);
  });

  it('the primary can be any guest, the rtos personality on a secondary too', () => {
    const c = configFromJson(two({}, { primary: true }));
    expect(c.guests.map((g) => [g.name, g.os, g.primary])).toEqual([['rtos', 'rtos', false], ['gpos', 'gpos', true]]);
  });
});

describe('link', () => {
  it('defaults to tap:nstap0, and tap is its short form', () => {
    expect(defaultConfig().link).toEqual({ kind: 'tap', name: 'nstap0' });
    expect(configFromJson({ tap: 'ns9' }).link).toEqual({ kind: 'tap', name: 'ns9' });
    expect(configFromJson({ link: 'tap:ns8' })).toMatchObject({ link: { kind: 'tap', name: 'ns8' }, tap: 'ns8' });
  });

  it('parses a VXLAN URL: flood list with default port 4789, vni, local', () => {
    expect(parseLink('vxlan://192.0.2.1,192.0.2.3:8472?vni=42&local=192.0.2.2:4790')).toEqual({
      kind: 'vxlan', vni: 42, remotes: [{ addr: '192.0.2.1', port: 4789 }, { addr: '192.0.2.3', port: 8472 }], local: { addr: '192.0.2.2', port: 4790 },
    });
    expect(parseLink('vxlan://192.0.2.1?vni=16777215')).toMatchObject({ vni: 16777215, local: { addr: '0.0.0.0', port: 4789 } });
    expect(parseLink('vxlan://?vni=1')).toMatchObject({ remotes: [] });
  });

  it('a VXLAN link has no host address and cannot be bridged', () => {
    expect(configFromJson({ link: 'vxlan://192.0.2.1?vni=1' }).hostIp).toBeUndefined();
    expect(errorOf({ link: 'vxlan://192.0.2.1?vni=1', bridge: 'br0' })).toContain('bridge: only a tap link can join a bridge');
    expect(errorOf({ link: 'vxlan://192.0.2.1?vni=1', tap: 'x' })).toContain('tap: names a TAP, but the link is vxlan');
  });

  it('parses pcap replay with its pace', () => {
    expect(parseLink('pcap:in.pcap')).toEqual({ kind: 'pcap', path: 'in.pcap', pace: 'fast' });
    expect(parseLink('pcap:/x/in.pcap?pace=recorded')).toEqual({ kind: 'pcap', path: '/x/in.pcap', pace: 'recorded' });
  });

  const bad: Array<[string, string]> = [
    ['udp://1.2.3.4', 'link: malformed link "udp://1.2.3.4"'],
    ['vxlan://192.0.2.1', 'link: vxlan: vni must be 1 to 16777215, got "(none)"'],
    ['vxlan://192.0.2.1?vni=16777216', 'vni must be 1 to 16777215'],
    ['vxlan://192.0.2.1?vni=0', 'vni must be 1 to 16777215'],
    ['vxlan://192.0.2.300?vni=1', 'link: vxlan remote: expected IPv4[:PORT]'],
    ['vxlan://192.0.2.1:0?vni=1', 'vxlan remote'],
    ['vxlan://192.0.2.1?vni=1&local=x', 'link: vxlan local: expected IPv4[:PORT]'],
    ['vxlan://192.0.2.1?vni=1&group=239.1.1.1', 'link: vxlan: unknown parameter "group"'],
    ['tap:this-name-is-too-long', 'link: bad TAP name'],
    ['pcap:x.pcap?pace=slow', 'link: pace: expected "fast" or "recorded"'],
  ];
  for (const [link, message] of bad) it(`refuses ${link}`, () => expect(errorOf({ link })).toContain(message));
});

describe('board/ is pure', () => {
  it('no file of board/ imports a node: module (reading the file is cli/)', () => {
    const dir = new URL('./', import.meta.url);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      expect(readFileSync(new URL(f, dir), 'utf8'), f).not.toMatch(/from 'node:/);
    }
  });
});
