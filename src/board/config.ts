// The machine's configuration, checked in one place: a config document (the file, with the flags
// laid over it by cli/) is validated against the one schema (schema.ts), completed with the
// schema's defaults, converted to typed values, and checked across fields. A bad value is a
// ConfigError naming the field (exit code 2). Pure: reading the file is cli/'s job.
// The schema is checked and completed here with its ahead-of-time compiled form
// (compiled-schema.ts), not with TypeBox: loading TypeBox is a third of a boot. A document the
// check refuses is described by schema-errors.ts, which does load TypeBox and the schema; until
// something has imported it, a refused document is a SchemaErrorsNotLoaded (cli/ imports it then
// and asks again; the tests import it in their setup).
import { formatIpv4Cidr, formatMac, inSubnet, isMulticastMac, parseIpv4, parseIpv4Cidr, parseMac, type Ipv4, type Ipv4Cidr, type Mac } from '../wire/address.js';
import type { OsKind } from '../os/guest.js';
import type { TxPolicyName } from '../nanokernel/arbiter.js';
import type { FaultPolicy } from '../nanokernel/scheduler.js';
import type { PcapPrecision } from '../capture/pcap.js';
import { formatOf } from '../capture/capture.js';
import type { ProbeTiming } from '../net/index.js';
import { FIXED_MAC_BASE, deriveGuestMac } from './mac.js';
import type { ConfigFile, GuestFile } from './schema.js';
import { CHECK_SOURCE, DEFAULTS } from './compiled-schema.js';

/** Period of the rtos control task unless configured. */
export const DEFAULT_CONTROL_PERIOD_US = 1000;

export class ConfigError extends Error {
  readonly exitCode = 2;
  /**
   * `field` is the config path (guests[1].mac) of a one-field error, which cli/ renames to the
   * flag that set it; `problem` is the rest of the line. Errors across fields have no field.
   */
  constructor(message: string, readonly field?: string, readonly problem?: string) {
    super(message);
  }
}

export interface GuestSettings {
  name: string;
  os: OsKind;
  /** Served first (the nanokernel's primary domain); exactly one guest is. */
  primary: boolean;
  mac: Mac;
  /** The MAC was not configured: derived from the machine's identity (or the fixed default without one). */
  macDerived: boolean;
  /** 0.0.0.0/0 when `dhcp`. */
  ipv4: Ipv4Cidr;
  /** The address comes from a DHCP lease ("ipv4": "dhcp"). */
  dhcp: boolean;
  gateway?: Ipv4;
  weight: number;
  /** Transmit limit in bits/s. */
  rateBps?: number;
  echo: boolean;
  /** What the nanokernel does when this guest's code throws. */
  onFault: FaultPolicy;
  /** UDP echo replies per second to one source (0: no limit). */
  echoRate: number;
  /** IPv6 on this guest (gpos only; default on there). */
  ipv6: boolean;
  /** rtos only. */
  control?: { periodUs: number; telemetry?: { dst: Ipv4; port: number } };
  /** UDP traffic generator (off unless set). */
  load?: { dst: Ipv4; port: number; size: number };
}

/** Where the NIC's cable goes (the `link` key). */
export type LinkSpec =
  | { kind: 'tap'; name: string }
  | { kind: 'vxlan'; vni: number; remotes: Array<{ addr: string; port: number }>; local: { addr: string; port: number } }
  | { kind: 'pcap'; path: string; pace: 'fast' | 'recorded' };

export interface MachineConfig {
  link: LinkSpec;
  /** The TAP's name (a tap link; the default name otherwise, for the control socket's path). */
  tap: string;
  bridge?: string;
  uplink?: string;
  /** Address for the host side of the TAP (none when bridged). */
  hostIp?: Ipv4Cidr;
  capture?: string;
  capturePrecision: PcapPrecision;
  /** Capture views (pcapng): `wire` and guest names; default all. */
  captureViews?: string[];
  captureSnaplen?: number;
  /** Rotate the capture file at this many millions of bytes (tcpdump -C), keeping `captureFiles` files (-W). */
  captureMaxMb?: number;
  captureFiles?: number;
  logLevel: string;
  /** Logs: JSON, pretty-printed, or pretty on a terminal only (auto). */
  logFormat: 'auto' | 'json' | 'pretty';
  /** Serve Prometheus metrics here (off unless set). */
  metrics?: { dst: Ipv4; port: number };
  control?: string;
  txPolicy: TxPolicyName;
  /** NIC line rate in bits/s (0 = as fast as the TAP takes frames). */
  lineRateBps: number;
  mtu: number;
  /** Join TCP segments into super-segments at a tap link (link/tso.ts). */
  tso: boolean;
  scheduler: { quantumUs: number; quantumFrames: number; unitFrames: number; sliceUs: number; guardUs: number };
  /** Seconds between stats log lines (0 = none). */
  statsInterval: number;
  /** The identity guests' MACs are derived from (machineId and the link), when one is known. */
  macIdentity?: string;
  /** RFC 5227 probe of each guest's address at boot (timing; {} = the RFC's), or false: none. */
  addressProbe: Partial<ProbeTiming> | false;
  guests: GuestSettings[];
}

/** The embedded default: the schema's defaults and nothing else. */
export function defaultConfig(): MachineConfig {
  return configFromJson({});
}

/** A JSON Pointer (/guests/1/mac) as the user reads a field (guests[1].mac). */
export function fieldName(pointer: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.reduce((acc, p) => (/^[0-9]+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || 'config';
}

function fail(field: string, problem: string): never {
  throw new ConfigError(`${field}: ${problem}`, field, problem);
}

function failAcross(field: string, problem: string): never {
  throw new ConfigError(`${field}: ${problem}`);
}

/** What Value.Default reads of a schema (schema.ts's defaultsTree writes it into compiled-schema.ts). */
export interface DefaultsNode {
  default?: unknown;
  properties?: Record<string, DefaultsNode>;
  items?: DefaultsNode;
  anyOf?: DefaultsNode[];
  /** A union member's JSON type, or its constant: how a member is told from the others. */
  type?: string;
  const?: string | number | boolean;
}

/** The first thing wrong with a document the check refused: [JSON Pointer of the field, one line in the user's words]. */
export type SchemaErrorDescriber = (json: unknown) => [pointer: string, problem: string];

let describeSchemaError: SchemaErrorDescriber | undefined;

/** Set by schema-errors.ts when it is imported. */
export function describeSchemaErrorsWith(d: SchemaErrorDescriber): void {
  describeSchemaError = d;
}

/** The check refused a document and schema-errors.ts is not loaded yet: import it and ask again. */
export class SchemaErrorsNotLoaded extends Error {
  constructor() {
    super('the config does not follow the schema; import board/schema-errors.js to learn why');
  }
}

let compiledCheck: ((value: unknown) => boolean) | undefined;

/** TypeBox's compiled check of the whole schema, made once from its source. */
function check(json: unknown): boolean {
  // The source is TypeCompiler.Code's output, which TypeCompiler.Compile runs the same way.
  compiledCheck ??= new Function(CHECK_SOURCE)() as (value: unknown) => boolean;
  return compiledCheck(json);
}

/** Validate a document against the schema; the first error becomes a ConfigError naming its field. */
export function checkSchema(json: unknown): asserts json is ConfigFile {
  if (check(json)) return;
  if (describeSchemaError === undefined) throw new SchemaErrorsNotLoaded();
  const [path, text] = describeSchemaError(json);
  fail(fieldName(path), text);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a valid value belongs to this union member (members differ in JSON type or constant). */
function isMember(m: DefaultsNode, v: unknown): boolean {
  if (v === undefined) return m.default !== undefined;
  if (m.const !== undefined) return v === m.const;
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  return m.type === t || (m.type === 'integer' && t === 'number');
}

/**
 * Value.Default over a valid value: a missing value takes the schema's default (a copy), then the
 * defaults under it are filled in (object properties, array items, the union member it is).
 */
export function fillDefaults(node: DefaultsNode, value: unknown): unknown {
  if (node.anyOf !== undefined) {
    const v = value === undefined ? structuredClone(node.default) : value;
    const member = node.anyOf.find((m) => isMember(m, v));
    return member === undefined ? v : fillDefaults(member, v);
  }
  const v = value === undefined && node.default !== undefined ? structuredClone(node.default) : value;
  if (node.properties !== undefined && isObject(v)) {
    for (const [k, p] of Object.entries(node.properties)) {
      const filled = fillDefaults(p, v[k]);
      if (filled !== undefined) v[k] = filled;
    }
  }
  if (node.items !== undefined && Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = fillDefaults(node.items, v[i]);
  }
  return v;
}

/** A valid document with every default of the schema filled in (a new object; `json` is untouched). */
export function withDefaults(json: unknown): ConfigFile {
  checkSchema(json);
  return fillDefaults(DEFAULTS, structuredClone(json)) as ConfigFile;
}

/** The schema put a default there; a missing one is a bug in schema.ts, not user input. */
function d<T>(v: T | undefined, field: string): T {
  if (v === undefined) throw new Error(`schema has no default for ${field}`);
  return v;
}

/** "100M", "1G", "500k" or a plain number of bits/s (the schema checked the shape). */
function rateBps(v: number | string, field: string): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9.]+)([kKmMgG]?)$/.exec(v)!;
  const bps = Number(m[1]) * { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  if (!(bps >= 1)) fail(field, `rate must be at least 1 bit/s, got ${JSON.stringify(v)}`);
  return bps;
}

function endpoint(v: string): { dst: Ipv4; port: number } {
  const colon = v.lastIndexOf(':');
  return { dst: parseIpv4(v.slice(0, colon))!, port: Number(v.slice(colon + 1)) };
}

function mac(v: string, field: string): Mac {
  const m = parseMac(v)!;
  if (isMulticastMac(m)) fail(field, `MAC ${v} is a group address (its first byte is odd); a guest needs a unicast MAC`);
  if (m === 0) fail(field, 'MAC 00:00:00:00:00:00 is not a usable address');
  return m;
}

function guestSettings(g: GuestFile, field: string, derived: () => Mac): GuestSettings {
  const os = g.os ?? (g.name === 'rtos' || g.name === 'gpos' ? g.name : undefined);
  if (os === undefined) failAcross(`${field}.os`, 'expected "rtos" or "gpos" (required unless the name is rtos or gpos)');
  const out: GuestSettings = {
    name: g.name,
    os,
    primary: g.primary ?? false,
    mac: g.mac === undefined ? derived() : mac(g.mac, `${field}.mac`),
    macDerived: g.mac === undefined,
    ipv4: g.ipv4 === 'dhcp' ? { addr: 0, prefixLen: 0 } : parseIpv4Cidr(g.ipv4)!,
    dhcp: g.ipv4 === 'dhcp',
    weight: d(g.weight, `${field}.weight`),
    echo: d(g.echo, `${field}.echo`),
    onFault: d(g.onFault, `${field}.onFault`) as FaultPolicy,
    echoRate: d(g.echoRate, `${field}.echoRate`),
    ipv6: g.ipv6 ?? os === 'gpos',
  };
  if (os === 'rtos' && g.ipv6 === true) failAcross(`${field}.ipv6`, 'the rtos runs ARP, IPv4, ICMP and UDP only (IPv6 is for a gpos)');
  if (g.gateway != null) out.gateway = parseIpv4(g.gateway)!;
  if (g.rate != null) out.rateBps = rateBps(g.rate, `${field}.rate`);
  if (os === 'rtos') {
    out.control = { periodUs: g.control?.periodUs ?? DEFAULT_CONTROL_PERIOD_US };
    if (g.control?.telemetry != null) out.control.telemetry = endpoint(g.control.telemetry);
  } else if (g.control != null) {
    failAcross(`${field}.control`, 'only the rtos runs the control task');
  }
  if (g.load != null) out.load = { ...endpoint(g.load.dst), size: d(g.load.size, `${field}.load.size`) };
  return out;
}

const VXLAN_PORT = 4789;
const IPV4_PORT_RE = /^([0-9.]+)(?::([0-9]{1,5}))?$/;

function udpEndpoint(text: string, what: string, defaultPort: number): { addr: string; port: number } {
  const m = IPV4_PORT_RE.exec(text);
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!m || parseIpv4(m[1]!) === undefined || port < 1 || port > 65535) fail('link', `${what}: expected IPv4[:PORT] like 192.0.2.2:4789, got ${JSON.stringify(text)}`);
  return { addr: m[1]!, port };
}

/** Parse the `link` key (its scheme was checked by the schema). */
export function parseLink(text: string): LinkSpec {
  if (text.startsWith('tap:')) {
    const name = text.slice(4);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) fail('link', `bad TAP name ${JSON.stringify(name)} (1 to 15 of letters, digits, _ . -)`);
    return { kind: 'tap', name };
  }
  if (text.startsWith('pcap:')) {
    const m = /^pcap:(.+?)(?:\?pace=([a-z]*))?$/.exec(text)!;
    const pace = m[2] ?? 'fast';
    if (pace !== 'fast' && pace !== 'recorded') fail('link', `pace: expected "fast" or "recorded", got ${JSON.stringify(pace)}`);
    return { kind: 'pcap', path: m[1]!, pace };
  }
  const rest = text.slice('vxlan://'.length);
  const q = rest.indexOf('?');
  const hosts = q < 0 ? rest : rest.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
  for (const k of query.keys()) if (k !== 'vni' && k !== 'local') fail('link', `vxlan: unknown parameter ${JSON.stringify(k)} (known: vni, local)`);
  const vniText = query.get('vni');
  const vni = vniText !== null && /^[0-9]{1,8}$/.test(vniText) ? Number(vniText) : NaN;
  if (!(vni >= 1 && vni <= 0xffffff)) fail('link', `vxlan: vni must be 1 to 16777215, got ${JSON.stringify(vniText ?? '(none)')}`);
  const remotes = hosts === '' ? [] : hosts.split(',').map((h) => udpEndpoint(h, 'vxlan remote', VXLAN_PORT));
  const localText = query.get('local');
  const local = localText === null ? { addr: '0.0.0.0', port: VXLAN_PORT } : udpEndpoint(localText, 'vxlan local', VXLAN_PORT);
  return { kind: 'vxlan', vni, remotes, local };
}

/**
 * The one path from a config document (file, flags, or both) to a checked MachineConfig:
 * schema, defaults, conversion, then the checks across fields.
 */
export function configFromJson(json: unknown): MachineConfig {
  const f = withDefaults(json);
  const bridged = f.bridge != null || f.uplink != null;
  let link = parseLink(d(f.link, 'link'));
  if (f.tap !== undefined) {
    if (link.kind !== 'tap') failAcross('tap', `names a TAP, but the link is ${link.kind} (give tap or link, not both)`);
    link = { kind: 'tap', name: f.tap };
  }
  if (link.kind !== 'tap') {
    if (f.bridge != null) failAcross('bridge', `only a tap link can join a bridge (the link is ${link.kind})`);
    if (f.uplink != null) failAcross('uplink', `only a tap link can join an uplink (the link is ${link.kind})`);
  }
  const cfg: MachineConfig = {
    link,
    tap: link.kind === 'tap' ? link.name : 'nstap0',
    capturePrecision: d(f.capturePrecision, 'capturePrecision') as PcapPrecision,
    logLevel: d(f.logLevel, 'logLevel'),
    logFormat: d(f.logFormat, 'logFormat') as MachineConfig['logFormat'],
    txPolicy: d(f.txPolicy, 'txPolicy') as TxPolicyName,
    lineRateBps: f.lineRate == null || f.lineRate === 0 ? 0 : rateBps(f.lineRate, 'lineRate'),
    mtu: d(f.mtu, 'mtu'),
    tso: d(f.tso, 'tso'),
    scheduler: d(f.scheduler, 'scheduler') as MachineConfig['scheduler'],
    statsInterval: d(f.statsInterval, 'statsInterval'),
    // Replay takes its addresses at once unless the document asks for a probe.
    addressProbe: probeTiming(f.addressProbe ?? (link.kind === 'pcap' ? 'off' : 'rfc')),
    guests: [],
  };
  const identity = macIdentity(f.machineId, link);
  if (identity !== undefined) cfg.macIdentity = identity;
  cfg.guests = d(f.guests, 'guests').map((g, i) =>
    guestSettings(g, `guests[${i}]`, () => (identity === undefined ? FIXED_MAC_BASE + i : deriveGuestMac(identity, g.name))),
  );
  // Unless a guest is named the primary, the primary is the rtos (when there is exactly one).
  if (!cfg.guests.some((g) => g.primary)) {
    const rtos = cfg.guests.filter((g) => g.os === 'rtos');
    if (rtos.length === 1) rtos[0]!.primary = true;
  }
  if (f.bridge != null) cfg.bridge = f.bridge;
  if (f.uplink != null) cfg.uplink = f.uplink;
  if (f.hostIp != null && !bridged && link.kind === 'tap') cfg.hostIp = parseIpv4Cidr(f.hostIp)!;
  if (f.capture != null) cfg.capture = f.capture;
  captureSettings(cfg, f);
  if (f.metrics != null) cfg.metrics = endpoint(f.metrics);
  if (f.control != null) cfg.control = f.control;
  validate(cfg);
  return cfg;
}

/**
 * What guests' MACs are derived from: the machine's identity and the link (two machines on one
 * host differ by their TAP, on two hosts by their identity). None without a machineId, or for
 * capture replay, whose frames are addressed to the MACs they were recorded with: the fixed
 * defaults 02:4e:53:00:00:0a, :0b, ... by position.
 */
function macIdentity(machineId: string | undefined, link: LinkSpec): string | undefined {
  if (machineId === undefined) return undefined;
  switch (link.kind) {
    case 'tap':
      return `${machineId}\0tap:${link.name}`;
    case 'vxlan':
      return `${machineId}\0vxlan:${link.vni}@${link.local.addr}:${link.local.port}`;
    case 'pcap':
      return undefined;
  }
}

/** The addressProbe key: "rfc" (RFC 5227's timing), "off", or N ms for every wait. */
function probeTiming(v: 'rfc' | 'off' | number): Partial<ProbeTiming> | false {
  if (v === 'off') return false;
  if (v === 'rfc') return {};
  const us = v * 1000;
  return { probeWaitUs: us, probeMinUs: us, probeMaxUs: us, announceWaitUs: us };
}

/** The capture's views, snaplen and rotation, checked against the file format and the guests. */
function captureSettings(cfg: MachineConfig, f: ConfigFile): void {
  if (f.captureSnaplen != null) cfg.captureSnaplen = f.captureSnaplen;
  if (f.captureMaxMb != null) {
    if (cfg.capture === undefined || cfg.capture === '-') fail('captureMaxMb', 'needs a capture file (stdout is not rotated)');
    cfg.captureMaxMb = f.captureMaxMb;
  }
  if (f.captureFiles != null) {
    if (cfg.captureMaxMb === undefined) fail('captureFiles', 'needs captureMaxMb (the size at which files rotate)');
    cfg.captureFiles = f.captureFiles;
  }
  if (f.captureView != null) {
    const known = ['wire', ...cfg.guests.map((g) => g.name)];
    const views = f.captureView.split(',').map((x) => x.trim());
    for (const v of views) if (!known.includes(v)) fail('captureView', `unknown view ${JSON.stringify(v)} (known: ${known.join(', ')})`);
    if (new Set(views).size !== views.length) fail('captureView', `a view is named twice in ${JSON.stringify(f.captureView)}`);
    if (cfg.capture !== undefined && formatOf(cfg.capture) === 'pcap' && views.some((v) => v !== 'wire')) {
      fail('captureView', 'a .pcap file has the wire view only; name the file .pcapng for guest views');
    }
    cfg.captureViews = views;
  }
}

/** Checks across fields: one rtos, unique names, MACs and addresses, nothing on the host's address. */
function validate(cfg: MachineConfig): void {
  const primaries = cfg.guests.filter((g) => g.primary).length;
  if (primaries !== 1) failAcross('guests', `exactly one guest must be the primary ("primary": true, or by default the one rtos), found ${primaries}`);
  if (cfg.guests.length < 2) failAcross('guests', 'need at least two guests: the primary and a secondary');
  const seen = { name: new Map<string, number>(), mac: new Map<Mac, number>(), ip: new Map<Ipv4, number>() };
  cfg.guests.forEach((g, i) => {
    const n = seen.name.get(g.name);
    if (n !== undefined) failAcross(`guests[${i}].name`, `duplicate name ${g.name} (also guests[${n}])`);
    seen.name.set(g.name, i);
    const m = seen.mac.get(g.mac);
    if (m !== undefined) failAcross(`guests[${i}].mac`, `duplicate MAC ${formatMac(g.mac)} (also guests[${m}])`);
    seen.mac.set(g.mac, i);
    if (g.dhcp) return; // its address is the DHCP server's to choose, checked by the probe and the nanokernel
    const a = seen.ip.get(g.ipv4.addr);
    if (a !== undefined) failAcross(`guests[${i}].ipv4`, `duplicate address ${formatIpv4Cidr(g.ipv4)} (also guests[${a}])`);
    seen.ip.set(g.ipv4.addr, i);
    if (cfg.hostIp && !cfg.bridge && !cfg.uplink && cfg.hostIp.addr === g.ipv4.addr) failAcross(`guests[${i}].ipv4`, `${formatIpv4Cidr(g.ipv4)} is the host side's address (hostIp)`);
    if (g.gateway !== undefined && !inSubnet(g.ipv4, g.gateway)) failAcross(`guests[${i}].gateway`, `not in the guest's subnet ${formatIpv4Cidr(g.ipv4)}`);
  });
  if (cfg.bridge && cfg.uplink) failAcross('uplink', '--uplink makes its own bridge; do not combine it with --bridge');
}
