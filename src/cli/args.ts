// Command-line flags of `nanoshare run`, applied over the defaults and the --config file.
import { parseArgs } from 'node:util';
import {
  ConfigError, applyJson, checkCidr, checkEndpoint, checkIfName, checkIpv4, checkLogLevel, checkMac, checkPolicy, checkPrecision, checkRate,
  defaultConfig, loadConfigFile, validate, type MachineConfig,
} from '../board/config.js';

export const RUN_OPTIONS = {
  tap: { type: 'string' },
  bridge: { type: 'string' },
  uplink: { type: 'string' },
  'host-ip': { type: 'string' },
  config: { type: 'string' },
  capture: { type: 'string' },
  'capture-precision': { type: 'string' },
  'log-level': { type: 'string' },
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
  help: { type: 'boolean', short: 'h' },
} as const;

export const RUN_USAGE = `Usage: nanoshare run [options]

Runs the machine: a nanokernel with two guests (rtos, the primary, and gpos) sharing one
processor and one NIC bridged to a TAP device. Needs root or CAP_NET_ADMIN and /dev/net/tun.

  --tap NAME               TAP device (default nstap0); created if absent, removed on exit
  --bridge NAME            attach the TAP to this existing bridge and set no address
  --uplink IFACE           make a bridge, move IFACE's addresses to it, attach IFACE and the TAP
  --host-ip CIDR           address of the host side of the TAP (default 10.77.0.1/24; not with a bridge)
  --config FILE            JSON config (guests' names, MACs, IPv4/prefix, ...); flags override it
  --rtos-ip CIDR           rtos address (default 10.77.0.10/24)
  --gpos-ip CIDR           gpos address (default 10.77.0.11/24)
  --rtos-mac MAC           rtos MAC (default 02:4e:53:00:00:0a)
  --gpos-mac MAC           gpos MAC (default 02:4e:53:00:00:0b)
  --gateway IP             default gateway of both guests (default none)
  --capture FILE.pcap      write every frame crossing the NIC to a pcap file ('-' = stdout, for Wireshark)
  --capture-precision P    pcap timestamps: us (default) or ns
  --tx-policy P            strict (primary first, default) or weighted (deficit round robin)
  --line-rate BPS          NIC line rate, e.g. 100M or 1G (default: as fast as the TAP takes frames)
  --control-period US      the rtos control task's period in microseconds (default 1000)
  --telemetry ADDR:PORT    the rtos sends a telemetry datagram there every period (default off)
  --rtos-load ADDR:PORT    the rtos sends 1200-byte UDP datagrams there as fast as it may (default off)
  --gpos-load ADDR:PORT    the same for the gpos: a traffic generator, for benchmarks
  --control PATH           control socket for \`nanoshare stats\` (default $NANOSHARE_CONTROL or /run/nanoshare/<tap>.sock)
  --stats-interval S       seconds between stats log lines (default 10, 0 = off)
  --log-level LEVEL        fatal, error, warn, info (default), debug, trace, silent
  -h, --help               this text
`;

/** Build the configuration from argv (after `run`). Throws ConfigError (exit 2) on any bad input. */
export function configFromArgs(argv: readonly string[]): MachineConfig | 'help' {
  let values: { [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: RUN_OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new ConfigError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  if (values.help) return 'help';
  const cfg = defaultConfig();
  if (values.config !== undefined) loadConfigFile(cfg, values.config);
  const flagsJson: Record<string, string | number> = {};
  if (values.tap !== undefined) flagsJson.tap = values.tap;
  if (values.bridge !== undefined) flagsJson.bridge = values.bridge;
  if (values.uplink !== undefined) flagsJson.uplink = values.uplink;
  try {
    applyJson(cfg, flagsJson);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`--${e.message}`);
    throw e;
  }
  if (values['host-ip'] !== undefined) {
    if (cfg.bridge || cfg.uplink) throw new ConfigError('--host-ip: the TAP gets no address when it is attached to a bridge (--bridge/--uplink)');
    cfg.hostIp = checkCidr(values['host-ip'], '--host-ip');
  }
  if (cfg.bridge || cfg.uplink) cfg.hostIp = undefined;
  if (values.capture !== undefined) cfg.capture = values.capture;
  if (values['capture-precision'] !== undefined) cfg.capturePrecision = checkPrecision(values['capture-precision'], '--capture-precision');
  if (values['log-level'] !== undefined) cfg.logLevel = checkLogLevel(values['log-level'], '--log-level');
  if (values.control !== undefined) cfg.control = values.control;
  if (values['tx-policy'] !== undefined) cfg.txPolicy = checkPolicy(values['tx-policy'], '--tx-policy');
  if (values['line-rate'] !== undefined) cfg.lineRateBps = values['line-rate'] === '0' ? 0 : checkRate(values['line-rate'], '--line-rate');
  if (values['stats-interval'] !== undefined) cfg.statsInterval = intFlag(values['stats-interval'], '--stats-interval', 0, 86400);
  const byKind = (os: 'rtos' | 'gpos') => cfg.guests.find((g) => g.os === os);
  const rtos = byKind('rtos');
  const gpos = byKind('gpos');
  if (values['rtos-ip'] !== undefined && rtos) rtos.ipv4 = checkCidr(values['rtos-ip'], '--rtos-ip');
  if (values['gpos-ip'] !== undefined && gpos) gpos.ipv4 = checkCidr(values['gpos-ip'], '--gpos-ip');
  if (values['rtos-mac'] !== undefined && rtos) rtos.mac = checkMac(values['rtos-mac'], '--rtos-mac');
  if (values['gpos-mac'] !== undefined && gpos) gpos.mac = checkMac(values['gpos-mac'], '--gpos-mac');
  if (values.gateway !== undefined) {
    const gw = checkIpv4(values.gateway, '--gateway');
    for (const g of cfg.guests) g.gateway = gw;
  }
  if (rtos?.control) {
    if (values['control-period'] !== undefined) rtos.control.periodUs = intFlag(values['control-period'], '--control-period', 100, 10_000_000);
    if (values.telemetry !== undefined) rtos.control.telemetry = checkEndpoint(values.telemetry, '--telemetry');
  }
  if (values['rtos-load'] !== undefined && rtos) rtos.load = { ...checkEndpoint(values['rtos-load'], '--rtos-load'), size: 1200 };
  if (values['gpos-load'] !== undefined && gpos) gpos.load = { ...checkEndpoint(values['gpos-load'], '--gpos-load'), size: 1200 };
  checkIfName(cfg.tap, '--tap');
  validate(cfg);
  return cfg;
}

function intFlag(v: string, field: string, min: number, max: number): number {
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw new ConfigError(`${field}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}
