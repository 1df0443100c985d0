// The machine's configuration: embedded defaults, then a JSON file (--config), then flags. Every
// value is checked here, once; a bad one is a ConfigError that names the field (exit code 2).
import { readFileSync } from 'node:fs';
import { formatIpv4Cidr, formatMac, inSubnet, isMulticastMac, parseIpv4, parseIpv4Cidr, parseMac, type Ipv4, type Ipv4Cidr, type Mac } from '../wire/address.js';
import type { OsKind } from '../os/guest.js';
import type { TxPolicyName } from '../nanokernel/arbiter.js';
import { DEFAULT_SCHEDULER } from '../nanokernel/nanokernel.js';
import type { PcapPrecision } from '../capture/pcap.js';

export class ConfigError extends Error {
  readonly exitCode = 2;
}

export interface GuestSettings {
  name: string;
  os: OsKind;
  mac: Mac;
  ipv4: Ipv4Cidr;
  gateway?: Ipv4;
  weight: number;
  /** Transmit limit in bits/s. */
  rateBps?: number;
  echo: boolean;
  /** rtos only. */
  control?: { periodUs: number; telemetry?: { dst: Ipv4; port: number } };
  /** UDP traffic generator (off unless set). */
  load?: { dst: Ipv4; port: number; size: number };
}

export interface MachineConfig {
  tap: string;
  bridge?: string;
  uplink?: string;
  /** Address for the host side of the TAP (none when bridged). */
  hostIp?: Ipv4Cidr;
  capture?: string;
  capturePrecision: PcapPrecision;
  logLevel: string;
  control?: string;
  txPolicy: TxPolicyName;
  /** NIC line rate in bits/s (0 = as fast as the TAP takes frames). */
  lineRateBps: number;
  mtu: number;
  scheduler: { quantumUs: number; quantumFrames: number; unitFrames: number; sliceUs: number; guardUs: number };
  /** Seconds between stats log lines (0 = none). */
  statsInterval: number;
  guests: GuestSettings[];
}

export const DEFAULT_CONTROL_PERIOD_US = 1000;

export function defaultConfig(): MachineConfig {
  return {
    tap: 'nstap0',
    hostIp: parseIpv4Cidr('10.77.0.1/24')!,
    capturePrecision: 'us',
    logLevel: 'info',
    txPolicy: 'strict',
    lineRateBps: 0,
    mtu: 1500,
    scheduler: { ...DEFAULT_SCHEDULER },
    statsInterval: 10,
    guests: [
      { name: 'rtos', os: 'rtos', mac: parseMac('02:4e:53:00:00:0a')!, ipv4: parseIpv4Cidr('10.77.0.10/24')!, weight: 1, echo: true, control: { periodUs: DEFAULT_CONTROL_PERIOD_US } },
      { name: 'gpos', os: 'gpos', mac: parseMac('02:4e:53:00:00:0b')!, ipv4: parseIpv4Cidr('10.77.0.11/24')!, weight: 1, echo: true },
    ],
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function fail(field: string, msg: string): never {
  throw new ConfigError(`${field}: ${msg}`);
}

function expectObject(v: Json | undefined, field: string): { [k: string]: Json } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'expected an object');
  return v;
}

function onlyKeys(o: { [k: string]: Json }, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(field ? `${field}.${k}` : k, `unknown key (known: ${allowed.join(', ')})`);
  }
}

function str(v: Json | undefined, field: string): string {
  if (typeof v !== 'string') fail(field, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function num(v: Json | undefined, field: string, min: number, max: number, integer = true): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    fail(field, `expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function checkIfName(v: string, field: string): string {
  if (!IFNAME_RE.test(v)) fail(field, `bad interface name ${JSON.stringify(v)} (1 to 15 of letters, digits, _ . -)`);
  return v;
}

export function checkMac(v: string, field: string): Mac {
  const mac = parseMac(v);
  if (mac === undefined) fail(field, `malformed MAC ${JSON.stringify(v)} (expected six hex pairs like 02:4e:53:00:00:0a)`);
  if (isMulticastMac(mac)) fail(field, `MAC ${v} is a group address (its first byte is odd); a guest needs a unicast MAC`);
  if (mac === 0) fail(field, 'MAC 00:00:00:00:00:00 is not a usable address');
  return mac;
}

export function checkCidr(v: string, field: string): Ipv4Cidr {
  const c = parseIpv4Cidr(v);
  if (!c) fail(field, `malformed IPv4 address/prefix ${JSON.stringify(v)} (expected like 10.77.0.10/24)`);
  return c;
}

export function checkIpv4(v: string, field: string): Ipv4 {
  const ip = parseIpv4(v);
  if (ip === undefined) fail(field, `malformed IPv4 address ${JSON.stringify(v)} (expected like 10.77.0.1)`);
  return ip;
}

/** "100M", "1G", "500k" or a plain number of bits/s. */
export function checkRate(v: Json | undefined, field: string): number {
  if (typeof v === 'number') return num(v, field, 1, 1e12, false);
  const m = typeof v === 'string' ? /^([0-9]+(?:\.[0-9]+)?)([kKmMgG]?)$/.exec(v) : null;
  if (!m) fail(field, `expected bits/s like 100M, 1G or 500k, got ${JSON.stringify(v)}`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bps = Number(m[1]) * mult;
  if (!(bps >= 1)) fail(field, `rate must be at least 1 bit/s, got ${JSON.stringify(v)}`);
  return bps;
}

export function checkEndpoint(v: string, field: string): { dst: Ipv4; port: number } {
  const m = /^([0-9.]+):([0-9]{1,5})$/.exec(v);
  if (!m) fail(field, `expected ADDRESS:PORT like 10.77.0.1:9000, got ${JSON.stringify(v)}`);
  const dst = checkIpv4(m[1]!, field);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) fail(field, `port must be 1 to 65535, got ${port}`);
  return { dst, port };
}

const GUEST_KEYS = ['name', 'os', 'mac', 'ipv4', 'gateway', 'weight', 'rate', 'echo', 'control', 'load'] as const;
const TOP_KEYS = ['tap', 'bridge', 'uplink', 'hostIp', 'capture', 'capturePrecision', 'logLevel', 'control', 'txPolicy', 'lineRate', 'mtu', 'scheduler', 'statsInterval', 'guests'] as const;
const SCHED_KEYS = ['quantumUs', 'quantumFrames', 'unitFrames', 'sliceUs', 'guardUs'] as const;

function parseGuest(v: Json, field: string): GuestSettings {
  const o = expectObject(v, field);
  onlyKeys(o, GUEST_KEYS, field);
  const name = str(o.name, `${field}.name`);
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(name)) fail(`${field}.name`, `expected 1 to 16 of a-z, 0-9, - starting with a letter, got ${JSON.stringify(name)}`);
  const osText = o.os === undefined ? (name === 'rtos' || name === 'gpos' ? name : undefined) : str(o.os, `${field}.os`);
  if (osText !== 'rtos' && osText !== 'gpos') fail(`${field}.os`, `expected "rtos" or "gpos"${o.os === undefined ? ' (required unless the name is rtos or gpos)' : `, got ${JSON.stringify(osText)}`}`);
  if (o.mac === undefined) fail(`${field}.mac`, 'required');
  if (o.ipv4 === undefined) fail(`${field}.ipv4`, 'required');
  const g: GuestSettings = {
    name,
    os: osText,
    mac: checkMac(str(o.mac, `${field}.mac`), `${field}.mac`),
    ipv4: checkCidr(str(o.ipv4, `${field}.ipv4`), `${field}.ipv4`),
    weight: o.weight === undefined ? 1 : num(o.weight, `${field}.weight`, 0.01, 1000, false),
    echo: o.echo === undefined ? true : typeof o.echo === 'boolean' ? o.echo : fail(`${field}.echo`, 'expected true or false'),
  };
  if (o.gateway !== undefined && o.gateway !== null) g.gateway = checkIpv4(str(o.gateway, `${field}.gateway`), `${field}.gateway`);
  if (o.rate !== undefined && o.rate !== null) g.rateBps = checkRate(o.rate, `${field}.rate`);
  if (osText === 'rtos') {
    g.control = { periodUs: DEFAULT_CONTROL_PERIOD_US };
    if (o.control !== undefined && o.control !== null) {
      const c = expectObject(o.control, `${field}.control`);
      onlyKeys(c, ['periodUs', 'telemetry'], `${field}.control`);
      if (c.periodUs !== undefined) g.control.periodUs = num(c.periodUs, `${field}.control.periodUs`, 100, 10_000_000);
      if (c.telemetry !== undefined && c.telemetry !== null) g.control.telemetry = checkEndpoint(str(c.telemetry, `${field}.control.telemetry`), `${field}.control.telemetry`);
    }
  } else if (o.control !== undefined) {
    fail(`${field}.control`, 'only the rtos runs the control task');
  }
  if (o.load !== undefined && o.load !== null) {
    const l = expectObject(o.load, `${field}.load`);
    onlyKeys(l, ['dst', 'size'], `${field}.load`);
    if (l.dst === undefined) fail(`${field}.load.dst`, 'required (ADDRESS:PORT)');
    const ep = checkEndpoint(str(l.dst, `${field}.load.dst`), `${field}.load.dst`);
    g.load = { dst: ep.dst, port: ep.port, size: l.size === undefined ? 1200 : num(l.size, `${field}.load.size`, 1, 1472) };
  }
  return g;
}

/** Apply a parsed JSON config over `cfg`. */
export function applyJson(cfg: MachineConfig, json: Json): void {
  const o = expectObject(json, 'config');
  onlyKeys(o, TOP_KEYS, '');
  if (o.tap !== undefined) cfg.tap = checkIfName(str(o.tap, 'tap'), 'tap');
  if (o.bridge !== undefined && o.bridge !== null) cfg.bridge = checkIfName(str(o.bridge, 'bridge'), 'bridge');
  if (o.uplink !== undefined && o.uplink !== null) cfg.uplink = checkIfName(str(o.uplink, 'uplink'), 'uplink');
  if (o.hostIp !== undefined) cfg.hostIp = o.hostIp === null ? undefined : checkCidr(str(o.hostIp, 'hostIp'), 'hostIp');
  if (o.capture !== undefined && o.capture !== null) cfg.capture = str(o.capture, 'capture');
  if (o.capturePrecision !== undefined) cfg.capturePrecision = checkPrecision(str(o.capturePrecision, 'capturePrecision'), 'capturePrecision');
  if (o.logLevel !== undefined) cfg.logLevel = checkLogLevel(str(o.logLevel, 'logLevel'), 'logLevel');
  if (o.control !== undefined && o.control !== null) cfg.control = str(o.control, 'control');
  if (o.txPolicy !== undefined) cfg.txPolicy = checkPolicy(str(o.txPolicy, 'txPolicy'), 'txPolicy');
  if (o.lineRate !== undefined) cfg.lineRateBps = o.lineRate === null || o.lineRate === 0 ? 0 : checkRate(o.lineRate, 'lineRate');
  if (o.mtu !== undefined) cfg.mtu = num(o.mtu, 'mtu', 576, 9000);
  if (o.statsInterval !== undefined) cfg.statsInterval = num(o.statsInterval, 'statsInterval', 0, 86400);
  if (o.scheduler !== undefined) {
    const s = expectObject(o.scheduler, 'scheduler');
    onlyKeys(s, SCHED_KEYS, 'scheduler');
    if (s.quantumUs !== undefined) cfg.scheduler.quantumUs = num(s.quantumUs, 'scheduler.quantumUs', 10, 1_000_000);
    if (s.quantumFrames !== undefined) cfg.scheduler.quantumFrames = num(s.quantumFrames, 'scheduler.quantumFrames', 1, 65536);
    if (s.unitFrames !== undefined) cfg.scheduler.unitFrames = num(s.unitFrames, 'scheduler.unitFrames', 1, 4096);
    if (s.sliceUs !== undefined) cfg.scheduler.sliceUs = num(s.sliceUs, 'scheduler.sliceUs', 100, 1_000_000);
    if (s.guardUs !== undefined) cfg.scheduler.guardUs = num(s.guardUs, 'scheduler.guardUs', 0, 100_000);
  }
  if (o.guests !== undefined) {
    if (!Array.isArray(o.guests)) fail('guests', 'expected an array of guests');
    cfg.guests = o.guests.map((g, i) => parseGuest(g, `guests[${i}]`));
  }
}

export function checkPrecision(v: string, field: string): PcapPrecision {
  if (v !== 'us' && v !== 'ns') fail(field, `expected "us" or "ns", got ${JSON.stringify(v)}`);
  return v;
}

export function checkLogLevel(v: string, field: string): string {
  if (!LOG_LEVELS.includes(v)) fail(field, `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

export function checkPolicy(v: string, field: string): TxPolicyName {
  if (v !== 'strict' && v !== 'weighted') fail(field, `expected "strict" or "weighted", got ${JSON.stringify(v)}`);
  return v;
}

/** Read and apply a JSON config file. */
export function loadConfigFile(cfg: MachineConfig, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read: ${(e as Error).message}`);
  }
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid JSON: ${(e as Error).message}`);
  }
  try {
    applyJson(cfg, json);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`--config ${path}: ${e.message}`);
    throw e;
  }
}

/** Checks across fields: one rtos, unique names, MACs and addresses, nothing on the host's address. */
export function validate(cfg: MachineConfig): void {
  const rtos = cfg.guests.filter((g) => g.os === 'rtos');
  if (rtos.length !== 1) fail('guests', `exactly one guest must be the rtos (the primary), found ${rtos.length}`);
  if (cfg.guests.length < 2) fail('guests', 'need at least two guests: the rtos and a gpos');
  if (cfg.guests.length > 8) fail('guests', `at most 8 guests, found ${cfg.guests.length}`);
  const seen = { name: new Map<string, number>(), mac: new Map<Mac, number>(), ip: new Map<Ipv4, number>() };
  cfg.guests.forEach((g, i) => {
    const n = seen.name.get(g.name);
    if (n !== undefined) fail(`guests[${i}].name`, `duplicate name ${g.name} (also guests[${n}])`);
    seen.name.set(g.name, i);
    const m = seen.mac.get(g.mac);
    if (m !== undefined) fail(`guests[${i}].mac`, `duplicate MAC ${formatMac(g.mac)} (also guests[${m}])`);
    seen.mac.set(g.mac, i);
    const a = seen.ip.get(g.ipv4.addr);
    if (a !== undefined) fail(`guests[${i}].ipv4`, `duplicate address ${formatIpv4Cidr(g.ipv4)} (also guests[${a}])`);
    seen.ip.set(g.ipv4.addr, i);
    if (cfg.hostIp && !cfg.bridge && !cfg.uplink && cfg.hostIp.addr === g.ipv4.addr) fail(`guests[${i}].ipv4`, `${formatIpv4Cidr(g.ipv4)} is the host side's address (hostIp)`);
    if (g.gateway !== undefined && !inSubnet(g.ipv4, g.gateway)) fail(`guests[${i}].gateway`, `not in the guest's subnet ${formatIpv4Cidr(g.ipv4)}`);
  });
  if (cfg.bridge && cfg.uplink) fail('uplink', '--uplink makes its own bridge; do not combine it with --bridge');
}
