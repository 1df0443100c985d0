// `--uplink IFACE`: put the machine on the network of the container (Docker mode 2).
//
// Before:   eth0 (172.18.0.2/16, default via 172.18.0.1)          nstap0 (nanoshare)
// After:    br (172.18.0.2/16, default via 172.18.0.1, eth0's MAC)
//             ├── eth0 (no address)
//             └── nstap0 → the guests, with their own MACs and addresses on 172.18.0.0/16
//
// The container keeps its address (now on the bridge, which takes IFACE's MAC so the
// neighbours' ARP entries stay right), and the guests appear on the same L2 segment as the
// container, so the Docker host reaches them through its bridge (docker0 or a user-defined one).
// The teardown puts everything back as it was.
//
// Pure over an injected `ip` runner: `ip(args)` runs `ip ...args` (iproute2) and resolves with
// its stdout, or rejects with an Error carrying ip's message. JSON is asked for explicitly (`-j`)
// where this module parses the output, so a runner that always adds `-j` works as well.

/** The uplink, TAP or bridge named cannot be used as asked; nothing was changed. */
export class UplinkInputError extends Error {}

export interface IpCommand {
  (args: string[]): Promise<string>;
}

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  broadcast?: string;
  scope?: string;
  label?: string;
  tentative?: boolean;
}

interface IpLink {
  ifname?: string;
  master?: string;
  address?: string;
  mtu?: number;
  link_type?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: IpAddrInfo[];
}

interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  type?: string;
}

/** An address as it is moved: the arguments that re-create it with `ip addr add ... dev X`. */
interface MovedAddr {
  family: 'inet' | 'inet6';
  cidr: string;
  extra: string[];
}

/** A route as it is moved: the arguments that re-create it with `ip [-6] route add ... dev X`. */
interface MovedRoute {
  family: 'inet' | 'inet6';
  spec: string[];
  src?: string;
}

const IFNAMSIZ = 16;

function checkName(what: string, name: string): void {
  if (!name || name.length >= IFNAMSIZ || /[\s/:]/.test(name)) {
    throw new UplinkInputError(`${what} name ${JSON.stringify(name)} is not a valid interface name (1-15 characters, no spaces, '/' or ':')`);
  }
}

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.trim().split('\n')[0] ?? m;
}

function parseJson<T>(out: string, what: string): T {
  try {
    return JSON.parse(out.trim() === '' ? '[]' : out) as T;
  } catch {
    throw new Error(`${what}: cannot parse the output of ip -j: ${out.slice(0, 200)}`);
  }
}

/** `ip -j link/addr show dev NAME`, or undefined when the device does not exist. */
async function showDev(ip: IpCommand, kind: 'addr' | 'link', name: string): Promise<IpLink | undefined> {
  let out: string;
  try {
    out = await ip(['-j', '-d', kind, 'show', 'dev', name]);
  } catch (e) {
    if (/does not exist|cannot find device|no such device/i.test(message(e))) return undefined;
    throw e;
  }
  const links = parseJson<IpLink[]>(out, `${name}`);
  return links.find((l) => l.ifname === name) ?? links[0];
}

function movableAddrs(link: IpLink): MovedAddr[] {
  const out: MovedAddr[] = [];
  for (const a of link.addr_info ?? []) {
    if (!a.local || a.prefixlen === undefined) continue;
    if (a.family === 'inet') {
      const extra = a.broadcast ? ['broadcast', a.broadcast] : [];
      out.push({ family: 'inet', cidr: `${a.local}/${a.prefixlen}`, extra });
    } else if (a.family === 'inet6' && a.scope === 'global') {
      // Link-local addresses belong to each interface; the bridge makes its own.
      out.push({ family: 'inet6', cidr: `${a.local}/${a.prefixlen}`, extra: ['nodad'] });
    }
  }
  return out;
}

function movableRoutes(routes: IpRoute[], family: 'inet' | 'inet6', dev: string): MovedRoute[] {
  const out: MovedRoute[] = [];
  for (const r of routes) {
    if (r.dev !== dev || !r.dst) continue;
    // The kernel re-creates the routes of the prefixes (and IPv6 link-local/multicast) itself.
    if (r.protocol === 'kernel') continue;
    if (family === 'inet6' && (r.dst.startsWith('fe80:') || r.dst.startsWith('ff00:') || r.type === 'multicast')) continue;
    if (r.type && r.type !== 'unicast') continue;
    const spec = [r.dst];
    if (r.gateway) spec.push('via', r.gateway);
    const tail: string[] = [];
    if (r.metric !== undefined) tail.push('metric', String(r.metric));
    if (r.protocol && r.protocol !== 'boot') tail.push('proto', r.protocol);
    if (r.scope && r.scope !== 'global' && r.scope !== 'universe') tail.push('scope', r.scope);
    const route: MovedRoute = { family, spec: [...spec, '#dev', ...tail] };
    if (r.prefsrc) route.src = r.prefsrc;
    out.push(route);
  }
  return out;
}

function routeArgs(op: 'replace' | 'del', r: MovedRoute, dev: string): string[] {
  const args = r.family === 'inet6' ? ['-6', 'route', op] : ['route', op];
  for (const s of r.spec) {
    if (s === '#dev') args.push('dev', dev);
    else args.push(s);
  }
  if (r.src && op === 'replace') args.push('src', r.src);
  return args;
}

function famArgs(a: MovedAddr): string[] {
  return a.family === 'inet6' ? ['-6'] : [];
}

/**
 * Make `bridge` (it must not exist), move `uplink`'s addresses and routes (the default route included) to it, and
 * attach `uplink` and `tap` to it. Returns the teardown, which undoes all of it (idempotent,
 * best effort: it tries every step and then reports what failed). If a step of the setup fails,
 * what was done is undone before the error is thrown; errors name the interface.
 * `tap` is attached if it exists, else created here as a persistent TAP (which the TAP addon
 * then opens by name) and deleted by the teardown.
 */
export async function setupUplink(ip: IpCommand, opts: { uplink: string; tap: string; bridge: string }): Promise<() => Promise<void>> {
  const { uplink, tap, bridge } = opts;
  checkName('uplink', uplink);
  checkName('tap', tap);
  checkName('bridge', bridge);
  if (new Set([uplink, tap, bridge]).size !== 3) {
    throw new UplinkInputError(`uplink ${uplink}, tap ${tap} and bridge ${bridge} must be three different interfaces`);
  }

  const up = await showDev(ip, 'addr', uplink);
  if (!up) throw new UplinkInputError(`uplink ${uplink} not found (\`ip link\` lists the interfaces there are)`);
  if (up.master) throw new UplinkInputError(`uplink ${uplink} is already attached to ${up.master}`);
  if (up.linkinfo?.info_kind === 'bridge') throw new UplinkInputError(`uplink ${uplink} is itself a bridge: use --bridge ${uplink} instead`);
  if (up.link_type && up.link_type !== 'ether') {
    throw new UplinkInputError(`uplink ${uplink} is not an Ethernet interface (link type ${up.link_type})`);
  }
  if (await showDev(ip, 'link', bridge)) throw new UplinkInputError(`bridge ${bridge} already exists (choose another name with --bridge)`);
  const tapLink = await showDev(ip, 'link', tap);
  if (tapLink?.master) throw new UplinkInputError(`tap ${tap} is already attached to ${tapLink.master}`);

  const addrs = movableAddrs(up);
  const routes = [
    ...movableRoutes(parseJson<IpRoute[]>(await ip(['-j', 'route', 'show']), `uplink ${uplink}`), 'inet', uplink),
    ...(addrs.some((a) => a.family === 'inet6')
      ? movableRoutes(parseJson<IpRoute[]>(await ip(['-j', '-6', 'route', 'show']), `uplink ${uplink}`), 'inet6', uplink)
      : []),
  ];

  // What has been done so far, so the teardown (or a failed setup's rollback) undoes exactly that.
  const did = {
    bridge: false,
    routesRemoved: [] as MovedRoute[],
    addrsRemoved: [] as MovedAddr[],
    uplinkAttached: false,
    tapCreated: false,
    tapAttached: false,
  };
  const run = async (what: string, args: string[]): Promise<void> => {
    try {
      await ip(args);
    } catch (e) {
      throw new Error(`${what}: ${message(e)}`);
    }
  };

  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    const failures: string[] = [];
    const attempt = async (what: string, args: string[]) => {
      try {
        await ip(args);
      } catch (e) {
        failures.push(`${what}: ${message(e)}`);
      }
    };
    if (did.tapCreated) await attempt(`tap ${tap}: delete`, ['link', 'del', 'dev', tap]);
    else if (did.tapAttached) await attempt(`tap ${tap}: detach from ${bridge}`, ['link', 'set', 'dev', tap, 'nomaster']);
    if (did.uplinkAttached) await attempt(`uplink ${uplink}: detach from ${bridge}`, ['link', 'set', 'dev', uplink, 'nomaster']);
    // Deleting the bridge takes its addresses and routes with it.
    if (did.bridge) await attempt(`bridge ${bridge}: delete`, ['link', 'del', 'dev', bridge]);
    for (const a of did.addrsRemoved) {
      await attempt(`uplink ${uplink}: restore ${a.cidr}`, [...famArgs(a), 'addr', 'add', a.cidr, ...a.extra, 'dev', uplink]);
    }
    for (const r of did.routesRemoved) {
      await attempt(`uplink ${uplink}: restore route ${r.spec[0]}`, routeArgs('replace', r, uplink));
    }
    if (failures.length > 0) throw new Error(`uplink ${uplink} teardown incomplete: ${failures.join('; ')}`);
  };

  try {
    // 1. The bridge, with the uplink's MAC and MTU: the container keeps its identity on the LAN,
    //    so the neighbours' ARP entries for its address stay right.
    const create = ['link', 'add', 'name', bridge];
    if (up.mtu) create.push('mtu', String(up.mtu));
    create.push('type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
    await run(`bridge ${bridge}: cannot create it`, create);
    did.bridge = true;
    if (up.address) {
      await run(`bridge ${bridge}: cannot give it ${uplink}'s MAC ${up.address}`, ['link', 'set', 'dev', bridge, 'address', up.address]);
    }

    // 2. Take the routes, then the addresses, off the uplink.
    for (const r of routes) {
      await run(`uplink ${uplink}: cannot remove route ${r.spec[0]}`, routeArgs('del', r, uplink));
      did.routesRemoved.push(r);
    }
    for (const a of addrs) {
      await run(`uplink ${uplink}: cannot remove ${a.cidr}`, [...famArgs(a), 'addr', 'del', a.cidr, 'dev', uplink]);
      did.addrsRemoved.push(a);
    }

    // 3. Attach the uplink, bring both up, and give the bridge the addresses, then the routes.
    await run(`uplink ${uplink}: cannot attach it to bridge ${bridge}`, ['link', 'set', 'dev', uplink, 'master', bridge]);
    did.uplinkAttached = true;
    await run(`uplink ${uplink}: cannot bring it up`, ['link', 'set', 'dev', uplink, 'up']);
    await run(`bridge ${bridge}: cannot bring it up`, ['link', 'set', 'dev', bridge, 'up']);
    for (const a of addrs) {
      await run(`bridge ${bridge}: cannot add ${a.cidr} (moved from ${uplink})`, [...famArgs(a), 'addr', 'add', a.cidr, ...a.extra, 'dev', bridge]);
    }
    for (const r of routes) {
      await run(`bridge ${bridge}: cannot add route ${r.spec[0]} (moved from ${uplink})`, routeArgs('replace', r, bridge));
    }

    // 4. The TAP: created here if the machine has not made it yet (a persistent TAP, which the
    //    addon then opens by name), attached, up.
    if (!tapLink) {
      await run(`tap ${tap}: cannot create it`, ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      did.tapCreated = true;
    }
    await run(`tap ${tap}: cannot attach it to bridge ${bridge}`, ['link', 'set', 'dev', tap, 'master', bridge]);
    did.tapAttached = true;
    await run(`tap ${tap}: cannot bring it up`, ['link', 'set', 'dev', tap, 'up']);
  } catch (e) {
    try {
      await teardown();
    } catch (t) {
      throw new Error(`${message(e)} (and the rollback failed: ${message(t)})`);
    }
    throw e;
  }
  return teardown;
}
