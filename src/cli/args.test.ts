// Flags are config keys: each flag lands on a key the schema knows, a flag and the same key in a
// file give the same machine, and an error names the flag (or the file) the bad value came from.
import { deriveGuestMac } from '../board/mac.js';
import { hostMachineId } from '../host/identity.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, GuestSchema } from '../board/schema.js';
import { ConfigError } from '../board/config.js';
import { FLAG_KEYS, RUN_OPTIONS, RUN_USAGE, configFromArgs } from './args.js';

const dir = mkdtempSync(join(tmpdir(), 'nanoshare-scale-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(json: unknown): string {
  const p = join(dir, `c${n++}.json`);
  writeFileSync(p, JSON.stringify(json));
  return p;
}

function errorOf(argv: string[]): string {
  try {
    configFromArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('no ConfigError');
}

/** The schema reached by a path of keys, looking through nullable unions. */
function at(schema: TSchema, path: readonly string[]): TSchema | undefined {
  let s: TSchema | undefined = schema;
  for (const k of path) {
    const obj: TSchema | undefined = s?.anyOf ? (s.anyOf as TSchema[]).find((m) => m.type === 'object') : s;
    s = (obj?.properties as Record<string, TSchema> | undefined)?.[k];
  }
  return s;
}

describe('every flag is a config key', () => {
  it('each flag of `nanoshare run` but --config and --help has a key, and the key is in the schema', () => {
    const flags = Object.keys(RUN_OPTIONS).filter((f) => f !== 'help' && f !== 'config');
    expect(Object.keys(FLAG_KEYS).sort()).toEqual(flags.sort());
    for (const [flag, key] of Object.entries(FLAG_KEYS)) {
      expect(at(key.guest ? GuestSchema : ConfigSchema, key.path), `--${flag} -> ${key.path.join('.')}`).toBeDefined();
      expect(RUN_USAGE, `--${flag} in the usage text`).toContain(`--${flag}`);
    }
  });

  it('a flag and the same key in a file give the same machine', () => {
    const pairs: Array<[string[], unknown]> = [
      [['--tx-policy', 'weighted', '--line-rate', '100M', '--stats-interval', '0'], { txPolicy: 'weighted', lineRate: '100M', statsInterval: 0 }],
      [['--rtos-ip', '10.9.0.10/16', '--gpos-mac', '02:00:00:00:00:0b'], { guests: [{ name: 'rtos', ipv4: '10.9.0.10/16' }, { name: 'gpos', mac: '02:00:00:00:00:0b', ipv4: '10.77.0.11/24' }] }],
      [['--telemetry', '10.77.0.1:9000', '--control-period', '500', '--gpos-load', '10.77.0.1:7'], { guests: [{ name: 'rtos', ipv4: '10.77.0.10/24', control: { periodUs: 500, telemetry: '10.77.0.1:9000' } }, { name: 'gpos', ipv4: '10.77.0.11/24', load: { dst: '10.77.0.1:7' } }] }],
      [['--bridge', 'br0'], { bridge: 'br0' }],
      [['--gpos-ip', 'dhcp', '--rtos-ip', 'dhcp'], { guests: [{ name: 'rtos', ipv4: 'dhcp' }, { name: 'gpos', ipv4: 'dhcp' }] }],
      [['--tap', 'ns1'], { link: 'tap:ns1' }],
      [['--link', 'vxlan://192.0.2.1?vni=7'], { link: 'vxlan://192.0.2.1?vni=7' }],
      [['--machine-id', 'lab-7', '--address-probe', '50'], { machineId: 'lab-7', addressProbe: 50 }],
      [['--address-probe', 'off'], { addressProbe: 'off' }],
    ];
    for (const [flags, json] of pairs) expect(configFromArgs(flags), flags.join(' ')).toEqual(configFromArgs(['--config', file(json)]));
  });

  it('derives the MACs of guests without one from the host, the link and the name; keeps a configured one', () => {
    const a = configFromArgs(['--tap', 'nsa0', '--gpos-mac', '02:00:00:00:00:0b']);
    const b = configFromArgs(['--tap', 'nsb0']);
    if (a === 'help' || b === 'help') throw new Error('help');
    expect(a.guests[0]!.mac).toBe(deriveGuestMac(`${hostMachineId()}\0tap:nsa0`, 'rtos'));
    expect([a.guests[0]!.macDerived, a.guests[1]!.macDerived]).toEqual([true, false]);
    expect(a.guests[1]!.mac).toBe(0x02_00_00_00_00_0b);
    expect(b.guests[0]!.mac).not.toBe(a.guests[0]!.mac); // another TAP on this host: another machine
    const again = configFromArgs(['--tap', 'nsa0']);
    expect(again !== 'help' && again.guests[0]!.mac).toBe(a.guests[0]!.mac); // the same across restarts
    const named = configFromArgs(['--tap', 'nsa0', '--machine-id', 'lab-7']);
    expect(named !== 'help' && named.guests[0]!.mac).toBe(deriveGuestMac('lab-7\0tap:nsa0', 'rtos'));
    expect(named !== 'help' && [named.addressProbe, configFromArgs(['--address-probe', 'off']) !== 'help']).toEqual([{}, true]);
  });

  it('the boot probe: rfc by default, off, or N ms for every wait; anything else names the flag', () => {
    const probe = (...argv: string[]) => {
      const c = configFromArgs(argv);
      return c === 'help' ? undefined : c.addressProbe;
    };
    expect(probe()).toEqual({});
    expect(probe('--address-probe', 'rfc')).toEqual({});
    expect(probe('--address-probe', 'off')).toBe(false);
    expect(probe('--address-probe', '40')).toEqual({ probeWaitUs: 40_000, probeMinUs: 40_000, probeMaxUs: 40_000, announceWaitUs: 40_000 });
    expect(errorOf(['--address-probe', 'soon'])).toMatch(/^--address-probe: expected "rfc" or "off" or an integer/);
    expect(errorOf(['--address-probe', '0'])).toMatch(/^--address-probe: /);
  });

  it('flags override the file, and --gateway sets every guest', () => {
    const cfg = configFromArgs(['--config', file({ txPolicy: 'weighted', tap: 'ns1' }), '--tx-policy', 'strict', '--gateway', '10.77.0.1']);
    expect(cfg !== 'help' && [cfg.txPolicy, cfg.tap, cfg.guests.map((g) => g.gateway)]).toEqual(['strict', 'ns1', [0x0a4d0001, 0x0a4d0001]]);
  });
});

describe('errors name where the value came from', () => {
  it('a value set by a flag names the flag, with the problem the schema found', () => {
    expect(errorOf(['--rtos-mac', 'zz'])).toMatch(/^--rtos-mac: malformed MAC "zz"/);
    expect(errorOf(['--gpos-ip', 'dhcp4'])).toBe('--gpos-ip: malformed IPv4 address/prefix "dhcp4" (expected like 10.77.0.10/24, or "dhcp")');
    expect(errorOf(['--stats-interval', 'soon'])).toBe('--stats-interval: expected an integer from 0 to 86400, got "soon"');
    expect(errorOf(['--control-period', '5'])).toBe('--control-period: expected an integer from 100 to 10000000, got 5');
    expect(errorOf(['--telemetry', '10.77.0.1:0'])).toMatch(/^--telemetry: malformed endpoint/);
    expect(errorOf(['--line-rate', 'fast'])).toMatch(/^--line-rate: malformed rate "fast"/);
    expect(errorOf(['--link', 'vxlan://192.0.2.1?vni=0'])).toBe('--link: vxlan: vni must be 1 to 16777215, got "0"');
  });

  it('a value from the file names the file and the field, even with flags given', () => {
    expect(errorOf(['--config', file({ guests: [{ name: 'rtos', mac: 'zz', ipv4: '10.0.0.1/24' }] }), '--tap', 'x'])).toMatch(/^--config .*c\d+\.json: guests\[0\]\.mac: malformed MAC "zz"/);
  });

  it('a conflict between fields names the config fields', () => {
    expect(errorOf(['--rtos-mac', '02:4e:53:00:00:0a', '--gpos-mac', '02:4e:53:00:00:0a'])).toBe('guests[1].mac: duplicate MAC 02:4e:53:00:00:0a (also guests[0])');
    expect(errorOf(['--bridge', 'br0', '--host-ip', '10.1.0.1/24'])).toMatch(/^--host-ip: the TAP gets no address/);
  });

  it('a guest flag with no such guest says so', () => {
    const noGpos = { guests: [{ name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: '10.77.0.10/24' }, { name: 'web', os: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: '10.77.0.11/24' }] };
    const cfg = configFromArgs(['--config', file(noGpos), '--gpos-ip', '10.77.0.20/24']);
    expect(cfg !== 'help' && cfg.guests[1]!.ipv4.addr).toBe(0x0a4d0014);
    expect(errorOf(['--config', file({ guests: [{ name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: '10.77.0.10/24' }, { name: 'x', os: 'rtos', mac: '02:4e:53:00:00:0b', ipv4: '10.77.0.11/24' }] })])).toMatch(/exactly one guest must be the primary/);
  });
});

describe('capture flags', () => {
  const cfg = (...argv: string[]) => {
    const c = configFromArgs(argv);
    if (c === 'help') throw new Error('help');
    return c;
  };

  it('map onto the config, and the same keys in a file give the same', () => {
    const c = cfg('--capture', 'x.pcapng', '--capture-view', 'wire,gpos', '--capture-snaplen', '128', '--capture-max-mb', '5', '--capture-files', '3');
    expect([c.capture, c.captureViews, c.captureSnaplen, c.captureMaxMb, c.captureFiles]).toEqual(['x.pcapng', ['wire', 'gpos'], 128, 5, 3]);
    const f = cfg('--config', file({ capture: 'x.pcapng', captureView: 'wire,gpos', captureSnaplen: 128, captureMaxMb: 5, captureFiles: 3 }));
    expect([f.capture, f.captureViews, f.captureSnaplen, f.captureMaxMb, f.captureFiles]).toEqual(['x.pcapng', ['wire', 'gpos'], 128, 5, 3]);
    const d = cfg();
    expect([d.captureViews, d.captureSnaplen, d.captureMaxMb, d.captureFiles]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('reject bad values with one message naming the flag', () => {
    expect(errorOf(['--capture', 'x.pcapng', '--capture-view', 'wire,dos'])).toMatch(/^--capture-view: unknown view "dos" \(known: wire, rtos, gpos\)/);
    expect(errorOf(['--capture', 'x.pcapng', '--capture-view', 'gpos,gpos'])).toMatch(/^--capture-view: a view is named twice/);
    expect(errorOf(['--capture', 'x.pcap', '--capture-view', 'rtos'])).toMatch(/^--capture-view: a \.pcap file has the wire view only/);
    expect(errorOf(['--capture-snaplen', '10'])).toMatch(/^--capture-snaplen: /);
    expect(errorOf(['--capture', 'x.pcapng', '--capture-files', '3'])).toMatch(/^--capture-files: needs captureMaxMb/);
    expect(errorOf(['--capture', '-', '--capture-max-mb', '3'])).toMatch(/^--capture-max-mb: needs a capture file/);
    expect(errorOf(['--capture-max-mb', '0', '--capture', 'a.pcapng'])).toMatch(/^--capture-max-mb: /);
  });
});

describe('metrics and log flags', () => {
  it('map onto the config (off and auto by default), and reject bad values naming the flag', () => {
    const c = configFromArgs(['--metrics', '127.0.0.1:9464', '--log-format', 'json']);
    if (c === 'help') throw new Error('help');
    expect([c.metrics, c.logFormat]).toEqual([{ dst: 0x7f000001, port: 9464 }, 'json']);
    const d = configFromArgs([]);
    if (d === 'help') throw new Error('help');
    expect([d.metrics, d.logFormat]).toEqual([undefined, 'auto']);
    expect(errorOf(['--metrics', 'localhost'])).toMatch(/^--metrics: /);
    expect(errorOf(['--log-format', 'xml'])).toMatch(/^--log-format: .*"xml"/);
  });
});
