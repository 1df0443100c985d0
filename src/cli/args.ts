// Command-line flags of `nanoshare run`. Each flag is a config key (FLAG_KEYS): the flags are laid
// over the --config file's document and the whole is validated by the same schema and checks as a
// file (board/config.ts), so a rule is written once; an error in a value a flag set names the flag.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, configFromJson, fieldName, withDefaults, type MachineConfig } from '../board/config.js';
import type { ConfigFile } from '../board/schema.js';
import { hostMachineId } from '../host/identity.js';

export const RUN_OPTIONS = {
  link: { type: 'string' },
  tap: { type: 'string' },
  bridge: { type: 'string' },
  uplink: { type: 'string' },
  'host-ip': { type: 'string' },
  config: { type: 'string' },
  capture: { type: 'string' },
  'capture-precision': { type: 'string' },
  'capture-view': { type: 'string' },
  'capture-snaplen': { type: 'string' },
  'capture-max-mb': { type: 'string' },
  'capture-files': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  metrics: { type: 'string' },
  control: { type: 'string' },
  'tx-policy': { type: 'string' },
  'line-rate': { type: 'string' },
  'rtos-ip': { type: 'string' },
  'gpos-ip': { type: 'string' },
  'rtos-mac': { type: 'string' },
  'gpos-mac': { type: 'string' },
  gateway: { type: 'string' },
  'control-period': { type: 'string' },
  telemetry: { type: 'string' },
  'rtos-load': { type: 'string' },
  'gpos-load': { type: 'string' },
  'stats-interval': { type: 'string' },
  'machine-id': { type: 'string' },
  'address-probe': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const RUN_USAGE = `Usage: nanoshare run [options]

Runs the machine: a nanokernel with two guests (rtos, the primary, and gpos) sharing one
processor and one NIC bridged to a TAP device. Needs root or CAP_NET_ADMIN and /dev/net/tun
(not for a vxlan or pcap link).

  --link URL               the NIC's cable: tap:NAME (default tap:nstap0), a TAP device, created if
                           absent, removed on exit; vxlan://REMOTE_IP[:PORT][,...]?vni=N[&local=IP:PORT],
                           Ethernet in UDP (RFC 7348) to a kernel vxlan or another machine, no privileges;
                           pcap:FILE[?pace=recorded], replay a pcap/pcapng capture: no TAP, no root, a virtual
                           clock on the capture's time; every frame goes in as fast as possible (or at the
                           recorded pace), then the machine runs until quiet and exits 0. From a pcapng with
                           several interfaces the 'wire' one (else the first Ethernet one), frames marked
                           outbound left out. With --capture the output shows what the guests answered; the
                           same input gives the same output bytes. --control and --metrics are not served
  --tap NAME               short for --link tap:NAME
  --bridge NAME            attach the TAP to this existing bridge and set no address
  --uplink IFACE           make a bridge, move IFACE's addresses to it, attach IFACE and the TAP
  --host-ip CIDR           address of the host side of the TAP (default 10.77.0.1/24; not with a bridge)
  --config FILE            JSON config (guests' names, MACs, IPv4/prefix, ...); flags override it
  --rtos-ip CIDR           rtos address (default 10.77.0.10/24)
  --gpos-ip CIDR           gpos address (default 10.77.0.11/24)
  --rtos-mac MAC           rtos MAC (default: derived from the machine id, the link and the name)
  --gpos-mac MAC           gpos MAC (default: derived, as for the rtos)
  --machine-id ID          identity the derived MACs come from (default: /etc/machine-id and the host name)
  --address-probe P        RFC 5227 probe of each guest's address at boot: rfc (default, 4 to 7 s),
                           off, or N (every wait N ms); a guest whose address is in use does not take it
  --gateway IP             default gateway of both guests (default none)
  --capture FILE           FILE.pcapng: the wire and each guest as interfaces, the nanokernel's decision
                           as each frame's comment; FILE.pcap: the wire only; '-': pcapng on stdout
                           (nanoshare run --capture - | wireshark -k -i -)
  --capture-view V,V       pcapng views to write: wire and guest names (default all)
  --capture-snaplen N      bytes kept of each frame (default 262144)
  --capture-max-mb N       start a new file when this one would pass N million bytes (FILE.0.pcapng, ...)
  --capture-files K        with --capture-max-mb: keep a ring of K files (as tcpdump -C/-W)
  --capture-precision P    pcap timestamps: us (default) or ns (pcapng is always ns)
  --tx-policy P            strict (primary first, default) or weighted (deficit round robin)
  --line-rate BPS          NIC line rate, e.g. 100M or 1G (default: as fast as the TAP takes frames)
  --control-period US      the rtos control task's period in microseconds (default 1000)
  --telemetry ADDR:PORT    the rtos sends a telemetry datagram there every period (default off)
  --rtos-load ADDR:PORT    the rtos sends 1200-byte UDP datagrams there as fast as it may (default off)
  --gpos-load ADDR:PORT    the same for the gpos: a traffic generator, for benchmarks
  --control PATH           control socket for \`nanoshare stats\` (default $NANOSHARE_CONTROL or /run/nanoshare/<tap>.sock)
  --stats-interval S       seconds between stats log lines (default 10, 0 = off)
  --log-level LEVEL        fatal, error, warn, info (default), debug, trace, silent
  --log-format F           json, pretty, or auto (default: pretty on a terminal, JSON otherwise)
  --metrics ADDR:PORT      serve Prometheus metrics at http://ADDR:PORT/metrics (default off)
  -h, --help               this text
`;

type FlagName = Exclude<keyof typeof RUN_OPTIONS, 'help' | 'config'>;

/** Where a flag's value goes in the config document, and whether it is a number there. */
interface FlagKey {
  /** Config path below the top level or below the guest (`guest` set). */
  path: readonly string[];
  /** Which guest: the first of this personality; 'all' = every guest. */
  guest?: 'rtos' | 'gpos' | 'all';
  integer?: true;
}

/** Every flag of `nanoshare run` as the config key it sets (see schema.ts for what each means). */
export const FLAG_KEYS: Record<FlagName, FlagKey> = {
  link: { path: ['link'] },
  tap: { path: ['tap'] },
  bridge: { path: ['bridge'] },
  uplink: { path: ['uplink'] },
  'host-ip': { path: ['hostIp'] },
  capture: { path: ['capture'] },
  'capture-precision': { path: ['capturePrecision'] },
  'capture-view': { path: ['captureView'] },
  'capture-snaplen': { path: ['captureSnaplen'], integer: true },
  'capture-max-mb': { path: ['captureMaxMb'], integer: true },
  'capture-files': { path: ['captureFiles'], integer: true },
  'log-level': { path: ['logLevel'] },
  'log-format': { path: ['logFormat'] },
  metrics: { path: ['metrics'] },
  control: { path: ['control'] },
  'tx-policy': { path: ['txPolicy'] },
  'line-rate': { path: ['lineRate'] },
  'stats-interval': { path: ['statsInterval'], integer: true },
  'machine-id': { path: ['machineId'] },
  'address-probe': { path: ['addressProbe'], integer: true },
  'rtos-ip': { path: ['ipv4'], guest: 'rtos' },
  'gpos-ip': { path: ['ipv4'], guest: 'gpos' },
  'rtos-mac': { path: ['mac'], guest: 'rtos' },
  'gpos-mac': { path: ['mac'], guest: 'gpos' },
  gateway: { path: ['gateway'], guest: 'all' },
  'control-period': { path: ['control', 'periodUs'], guest: 'rtos', integer: true },
  telemetry: { path: ['control', 'telemetry'], guest: 'rtos' },
  'rtos-load': { path: ['load', 'dst'], guest: 'rtos' },
  'gpos-load': { path: ['load', 'dst'], guest: 'gpos' },
};

type Doc = Record<string, unknown>;

/** Set doc[path] (making objects on the way), returning the JSON Pointer of the key. */
function setPath(doc: Doc, base: string, path: readonly string[], value: unknown): string {
  let o = doc;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    o = o[k] = next !== null && typeof next === 'object' ? (next as Doc) : {};
  }
  o[path[path.length - 1]!] = value;
  return `${base}/${path.join('/')}`;
}

/** Read and parse the --config file; errors name the file. The schema is checked by the caller. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/** The file's document with the schema's defaults, the file's own errors prefixed with its name. */
function fileDocument(path: string | undefined): ConfigFile {
  if (path === undefined) return withDefaults({});
  try {
    const json = readConfigFile(path);
    configFromJson(json);
    return withDefaults(json);
  } catch (e) {
    if (e instanceof ConfigError && !e.message.startsWith('--config ')) throw new ConfigError(`--config ${path}: ${e.message}`);
    throw e;
  }
}

/** Build the configuration from argv (after `run`). Throws ConfigError (exit 2) on any bad input. */
export function configFromArgs(argv: readonly string[]): MachineConfig | 'help' {
  let values: { [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: RUN_OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  if (values.help) return 'help';
  const doc = fileDocument(values.config) as Doc;
  const guests = doc.guests as Doc[];
  /** JSON Pointer of each key a flag set -> the flag, so an error there names the flag. */
  const setBy = new Map<string, string>();
  for (const [flag, key] of Object.entries(FLAG_KEYS) as Array<[FlagName, FlagKey]>) {
    const text = values[flag];
    if (text === undefined) continue;
    const value = key.integer && /^[0-9]{1,15}$/.test(text) ? Number(text) : text;
    if (key.guest === undefined) {
      setBy.set(setPath(doc, '', key.path, value), `--${flag}`);
      continue;
    }
    const targets = guests.map((g, i) => [g, i] as const).filter(([g]) => key.guest === 'all' || (g.os ?? g.name) === key.guest);
    if (targets.length === 0) throw new ConfigError(`--${flag}: no guest is a ${key.guest}`);
    for (const [g, i] of key.guest === 'all' ? targets : targets.slice(0, 1)) setBy.set(setPath(g, `/guests/${i}`, key.path, value), `--${flag}`);
  }
  // `nanoshare run` always knows who it is: the host's identity unless the user named one.
  if (doc.machineId === undefined) doc.machineId = hostMachineId();
  if (values['host-ip'] !== undefined && (doc.bridge != null || doc.uplink != null)) {
    throw new ConfigError('--host-ip: the TAP gets no address when it is attached to a bridge (--bridge/--uplink)');
  }
  try {
    return configFromJson(doc);
  } catch (e) {
    if (e instanceof ConfigError && e.field !== undefined) {
      const flag = [...setBy].find(([pointer]) => fieldName(pointer) === e.field)?.[1];
      if (flag) throw new ConfigError(`${flag}: ${e.problem}`, e.field, e.problem);
    }
    throw e;
  }
}

/** The TAP name a `--tap` flag (of any command) names, checked by the same schema (default nstap0). */
export function tapFromFlag(value: string | undefined): string {
  const cfg = configFromArgs(value === undefined ? [] : ['--tap', value]);
  return cfg === 'help' ? 'nstap0' : cfg.tap;
}
