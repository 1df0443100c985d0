// The config file's one JSON Schema, written once with TypeBox: the same object is the type of a
// config file (Static), what validates it (board/config.ts, for the file and for the flags alike),
// the defaults (its `default` keywords) and the shipped schema/nanoshare.schema.json that editors
// use to validate and complete a config (`npm run schema` writes it; a test keeps it in step).
// Descriptions here are the user documentation of every key. Adding a key: add it here, convert
// it in config.ts, run `npm run schema`.
// `npm run schema` also compiles the schema ahead of time into compiled-schema.ts (TypeBox's
// TypeCompiler output and the tree of defaults), which is what `nanoshare run` checks a config
// with: this module, and TypeBox (about 270 modules, a third of a boot), are loaded only to
// describe a config that the compiled check refused (schema-errors.ts).
import { Type, type Static, type TSchema, type TString } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { DEFAULT_SCHEDULER } from '../nanokernel/nanokernel.js';
import { DEFAULT_CONTROL_PERIOD_US, type DefaultsNode } from './config.js';

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = `${OCTET}(\\.${OCTET}){3}`;
const PORT = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
const HEX2 = '[0-9A-Fa-f]{2}';

/**
 * Strings whose shape the schema checks with a pattern, and the words an error uses for each
 * (the pattern itself would mean nothing to a user). config.ts looks the failing schema up here.
 */
export const FORMAT = Symbol('nanoshare.format');
export interface StringFormat {
  what: string;
  hint: string;
}
function format(pat: string, what: string, hint: string, example: string) {
  return (description: string, extra: { default?: string } = {}): TString => {
    // A symbol key: TypeBox's clones (Optional, Union) keep it, JSON.stringify leaves it out.
    return Type.String({ pattern: `^${pat}$`, description, examples: [example], ...extra, [FORMAT]: { what, hint } satisfies StringFormat });
  };
}

const MacText = format(`${HEX2}([:-])${HEX2}(\\1${HEX2}){4}`, 'MAC', 'expected six hex pairs like 02:4e:53:00:00:0a', '02:4e:53:00:00:0a');
const Ipv4Text = format(IPV4, 'IPv4 address', 'expected like 10.77.0.1', '10.77.0.1');
const CidrText = format(`${IPV4}/(3[0-2]|[12]?[0-9])`, 'IPv4 address/prefix', 'expected like 10.77.0.10/24', '10.77.0.10/24');
const GuestIpv4Text = format(`(${IPV4}/(3[0-2]|[12]?[0-9])|dhcp)`, 'IPv4 address/prefix', 'expected like 10.77.0.10/24, or "dhcp"', '10.77.0.10/24');
const EndpointText = format(`${IPV4}:${PORT}`, 'endpoint', 'expected ADDRESS:PORT like 10.77.0.1:9000', '10.77.0.1:9000');
const IfNameText = format('[A-Za-z0-9_.-]{1,15}', 'interface name', '1 to 15 of letters, digits, _ . -', 'nstap0');
const GuestNameText = format('[a-z][a-z0-9-]{0,15}', 'guest name', '1 to 16 of a-z, 0-9, - starting with a letter', 'rtos');
const LinkText = format(
  '(tap:.+|vxlan://.*|pcap:.+)',
  'link',
  'expected tap:NAME, vxlan://REMOTE_IP[:PORT][,REMOTE_IP[:PORT]...]?vni=N[&local=IP:PORT] or pcap:FILE[?pace=recorded]',
  'vxlan://192.0.2.2?vni=42&local=0.0.0.0:4789',
);
const RateText = format('[0-9]+(\\.[0-9]+)?[kKmMgG]?', 'rate', 'expected bits/s like 100M, 1G or 500k', '100M');

/** The value or null (= unset); the description is repeated on the union for editors' hovers. */
function nullable<T extends TSchema>(s: T) {
  return Type.Union([s, Type.Null()], s.description === undefined ? {} : { description: s.description });
}
const O = Type.Optional;
const oneOf = (values: readonly string[], opts: { default: string; description: string }) => Type.Union(values.map((v) => Type.Literal(v)), opts);
/** Bits/s: a number or a string like 100M. Flat unions (no union inside a union) keep errors precise. */
const rateMembers = () => [Type.Number({ minimum: 1, maximum: 1e12 }), RateText('Bits per second with an optional k, M or G suffix.')];

export const GuestSchema = Type.Object(
  {
    name: GuestNameText('Guest name: 1 to 16 of a-z, 0-9, -, starting with a letter.'),
    os: O(Type.Union([Type.Literal('rtos'), Type.Literal('gpos')], { description: 'Personality: rtos (the primary; exactly one) or gpos. Defaults to the name when the name is rtos or gpos.' })),
    primary: O(
      Type.Boolean({
        description: 'The primary: served first by the processor and the NIC (strict policy), the others share what it leaves by weight. Exactly one guest is the primary; by default the one rtos.',
      }),
    ),
    mac: O(
      MacText(
        'Ethernet address, six hex pairs separated by : or -. Unicast (first byte even), not all zeros, unique. ' +
          'When absent: derived from the machine\'s identity (machineId, the link) and the guest\'s name, a stable locally administered unicast MAC (see the README).',
      ),
    ),
    ipv4: GuestIpv4Text(
      'IPv4 address and prefix of this guest, unique among the guests; or "dhcp": the guest takes a lease from the LAN\'s DHCP server (RFC 2131), ARP-probes it before use, renews it, and releases it when the machine stops.',
    ),
    gateway: O(nullable(Ipv4Text('Default gateway (in the guest\'s subnet); none by default.'))),
    weight: O(Type.Number({ minimum: 0.01, maximum: 1000, default: 1, description: 'Share of the NIC among the secondaries under the weighted transmit policy.' })),
    rate: O(Type.Union([...rateMembers(), Type.Null()], { description: 'Transmit limit of this guest in bits/s like 100M (default: none).' })),
    echo: O(Type.Boolean({ default: true, description: 'Answer UDP echo (port 7).' })),
    onFault: O(oneOf(['reboot', 'halt'], { default: 'reboot', description: 'When this guest\'s code throws: reboot it alone (rebuilt from this config; it announces itself again) or halt it (it never runs again, frames for it are dropped and counted).' })),
    echoRate: O(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 1000, description: 'UDP echo replies per second to one source address (a reflector limit); 0: no limit.' })),
    ipv6: O(Type.Boolean({ description: 'IPv6 (link-local address from the MAC, DAD, NDP, SLAAC, ICMPv6 echo): on by default on a gpos; the rtos runs IPv4 only, so true is refused there.' })),
    control: O(
      nullable(
        Type.Object(
          {
            periodUs: O(Type.Integer({ minimum: 100, maximum: 10_000_000, default: DEFAULT_CONTROL_PERIOD_US, description: 'Period of the control task in microseconds.' })),
            telemetry: O(nullable(EndpointText('Where the control task sends a telemetry datagram every period (default: nowhere).'))),
          },
          { additionalProperties: false, description: 'rtos only: the periodic control task.' },
        ),
      ),
    ),
    load: O(
      nullable(
        Type.Object(
          {
            dst: EndpointText('Destination of the generated datagrams.'),
            size: O(Type.Integer({ minimum: 1, maximum: 1472, default: 1200, description: 'UDP payload bytes.' })),
          },
          { additionalProperties: false, description: 'A UDP traffic generator: datagrams to dst as fast as the guest may send (for benchmarks; default off).' },
        ),
      ),
    ),
  },
  { additionalProperties: false, description: 'One guest OS: a host of its own on the LAN.' },
);

const S = DEFAULT_SCHEDULER;
export const ConfigSchema = Type.Object(
  {
    $schema: O(Type.String({ description: 'The schema this file follows (for editors).' })),
    link: O(
      LinkText(
        'Where the NIC\'s cable goes. tap:NAME (default tap:nstap0): a TAP device, created if absent, removed on exit. ' +
          'vxlan://REMOTE_IP[:PORT][,REMOTE_IP[:PORT]...]?vni=N[&local=IP:PORT]: Ethernet in UDP (RFC 7348), as the kernel\'s ' +
          '`ip link add ... type vxlan id N remote REMOTE_IP dstport 4789`; the remotes are the flood list (port 4789 unless given), ' +
          'local is where to listen (default 0.0.0.0:4789); needs no privileges. ' +
          'pcap:FILE[?pace=recorded]: replay a pcap or pcapng capture into the machine on a virtual clock (no TAP, no privileges), ' +
          'as fast as possible or at the recorded pace, then run until quiet and exit 0; from a pcapng the `wire` interface ' +
          '(else the first Ethernet one), frames marked outbound left out. Deterministic: the same input gives the same --capture bytes.',
        { default: 'tap:nstap0' },
      ),
    ),
    tap: O(IfNameText('Short for link tap:NAME (it names the TAP of a tap link).')),
    bridge: O(nullable(IfNameText('Attach the TAP to this existing bridge; the TAP then gets no address.'))),
    uplink: O(nullable(IfNameText('Make a bridge, move this interface\'s addresses to it, attach it and the TAP. Not with bridge.'))),
    hostIp: O(nullable(CidrText('Address of the host side of the TAP; null = none. Ignored with bridge or uplink.', { default: '10.77.0.1/24' }))),
    capture: O(nullable(Type.String({ description: "Capture file: FILE.pcapng holds the wire and each guest as interfaces with the nanokernel's decision on each frame; FILE.pcap the wire only; '-' = pcapng on stdout." }))),
    capturePrecision: O(oneOf(['us', 'ns'], { default: 'us', description: 'pcap timestamp precision (pcapng is always ns).' })),
    captureView: O(nullable(Type.String({ pattern: '^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$', description: 'pcapng views to write, comma-separated: wire and guest names (default all).' }))),
    captureSnaplen: O(nullable(Type.Integer({ minimum: 14, maximum: 262144, description: 'Bytes kept of each frame (default 262144).' }))),
    captureMaxMb: O(nullable(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Start a new capture file when this one would pass N million bytes (tcpdump -C); files are named FILE.0.pcapng, FILE.1.pcapng, ...' }))),
    captureFiles: O(nullable(Type.Integer({ minimum: 1, maximum: 100_000, description: 'With captureMaxMb: keep a ring of this many files (tcpdump -W).' }))),
    logLevel: O(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Log level (pino JSON on stderr).' })),
    logFormat: O(oneOf(['auto', 'json', 'pretty'], { default: 'auto', description: 'Logs on stderr: pino JSON, or pretty-printed (pino-pretty); auto = pretty on a terminal, JSON otherwise.' })),
    metrics: O(nullable(EndpointText('Serve Prometheus metrics at http://ADDRESS:PORT/metrics (default off).'))),
    control: O(nullable(Type.String({ description: 'Control socket path for `nanoshare stats` (default $NANOSHARE_CONTROL or /run/nanoshare/<tap>.sock).' }))),
    txPolicy: O(oneOf(['strict', 'weighted'], { default: 'strict', description: 'strict: the primary first; weighted: deficit round robin by weight.' })),
    lineRate: O(Type.Union([Type.Literal(0), Type.Null(), ...rateMembers()], { default: 0, description: 'NIC line rate in bits/s like 100M or 1G; 0 or null = as fast as the link takes frames.' })),
    mtu: O(Type.Integer({ minimum: 576, maximum: 9000, default: 1500, description: 'MTU of the NIC and the guests.' })),
    tso: O(
      Type.Boolean({
        default: true,
        description:
          'TCP segmentation offload at a tap link: one flow\'s segments that leave together are written as one super-segment the kernel cuts ' +
          'again (virtio-net header), so a tcpdump on the TAP shows frames larger than the MTU (as with a VM); the capture shows every segment. false = a write per frame.',
      }),
    ),
    scheduler: O(
      Type.Object(
        {
          quantumUs: O(Type.Integer({ minimum: 10, maximum: 1_000_000, default: S.quantumUs, description: 'Processor time a secondary may run before the nanokernel looks again.' })),
          quantumFrames: O(Type.Integer({ minimum: 1, maximum: 65536, default: S.quantumFrames, description: 'Frames per quantum.' })),
          unitFrames: O(Type.Integer({ minimum: 1, maximum: 4096, default: S.unitFrames, description: 'Frames per unit of work.' })),
          sliceUs: O(Type.Integer({ minimum: 100, maximum: 1_000_000, default: S.sliceUs, description: 'Length of one scheduling slice.' })),
          guardUs: O(Type.Integer({ minimum: 0, maximum: 100_000, default: S.guardUs, description: 'Deadline guard: no secondary unit starts this close to the primary\'s next release.' })),
        },
        { additionalProperties: false, default: {}, description: 'Nanokernel scheduler tuning.' },
      ),
    ),
    statsInterval: O(Type.Integer({ minimum: 0, maximum: 86400, default: 10, description: 'Seconds between stats log lines (0 = none).' })),
    machineId: O(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          'This machine\'s identity, from which the MACs of guests without a configured mac are derived (with the link and the guest\'s name). ' +
          'Default for `nanoshare run`: /etc/machine-id and the host name; give one to keep the MACs when those change (a re-created container).',
      }),
    ),
    addressProbe: O(
      Type.Union([Type.Literal('rfc'), Type.Literal('off'), Type.Integer({ minimum: 1, maximum: 10_000 })], {
        description:
          'RFC 5227 probe of each guest\'s IPv4 address at boot, before the guest takes it: "rfc" (the RFC\'s timing: 4 to 7 s), ' +
          '"off" (take it at once), or N: every wait N milliseconds (a quick probe for labs and tests). A guest whose address is in use does not take it. ' +
          'Default: "rfc"; "off" for a pcap: replay.',
      }),
    ),
    guests: O(
      Type.Array(GuestSchema, {
        maxItems: 256,
        description: 'The guests (2 to 256): exactly one primary (by default the one rtos), each rtos or gpos. Unique names, MACs and addresses.',
        default: [
          { name: 'rtos', os: 'rtos', ipv4: '10.77.0.10/24' },
          { name: 'gpos', os: 'gpos', ipv4: '10.77.0.11/24' },
        ],
      }),
    ),
  },
  { title: 'nanoshare machine config', additionalProperties: false, description: 'A nanoshare machine: `nanoshare run --config FILE`. Every key is optional; flags override the file.' },
);

/** A config file as written (before defaults and conversion). */
export type ConfigFile = Static<typeof ConfigSchema>;
export type GuestFile = Static<typeof GuestSchema>;

/** The schema as a JSON document (what schema/nanoshare.schema.json holds). */
export function schemaDocument(): object {
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...(JSON.parse(JSON.stringify(ConfigSchema)) as object) };
}

/**
 * The part of a schema that Value.Default reads: defaults, and the properties, items and union
 * members (with the type or constant that tells members apart) under which defaults lie.
 */
export function defaultsTree(s: TSchema): DefaultsNode | undefined {
  const node: DefaultsNode = {};
  if (s.default !== undefined) node.default = s.default;
  if (s.properties !== undefined) {
    const props: Record<string, DefaultsNode> = {};
    for (const [k, v] of Object.entries(s.properties as Record<string, TSchema>)) {
      const t = defaultsTree(v);
      if (t !== undefined) props[k] = t;
    }
    if (Object.keys(props).length > 0) node.properties = props;
  }
  if (s.items !== undefined) {
    const t = defaultsTree(s.items as TSchema);
    if (t !== undefined) node.items = t;
  }
  if (Array.isArray(s.anyOf)) {
    const members = (s.anyOf as TSchema[]).map((m) => defaultsTree(m));
    // Members are told apart by their JSON type or constant, so every member is kept with those.
    if (members.some((m) => m !== undefined)) node.anyOf = (s.anyOf as TSchema[]).map((m, i) => ({ ...memberKey(m), ...members[i] }));
  }
  return Object.keys(node).length > 0 ? node : undefined;
}

function memberKey(m: TSchema): DefaultsNode {
  return m.const !== undefined ? { const: m.const as string | number | boolean } : { type: m.type as string };
}

/** The text of compiled-schema.ts: the schema compiled by TypeBox's TypeCompiler, and its defaults. */
export function compiledSchemaModule(): string {
  const code = TypeCompiler.Code(ConfigSchema, [], { language: 'javascript' });
  return [
    '// Generated by `npm run schema` (scripts/write-schema.mjs) from schema.ts: do not edit. The config',
    "// schema compiled ahead of time, so `nanoshare run` checks a config without loading TypeBox: CHECK",
    "// is TypeBox's TypeCompiler.Code(ConfigSchema) (the body of the function TypeCompiler.Compile",
    '// would make), DEFAULTS the tree Value.Default reads. schema.test.ts fails while this differs.',
    "import type { DefaultsNode } from './config.js';",
    '',
    `export const CHECK_SOURCE = ${JSON.stringify(code)};`,
    '',
    `export const DEFAULTS: DefaultsNode = ${JSON.stringify(defaultsTree(ConfigSchema), null, 2)};`,
    '',
  ].join('\n');
}
