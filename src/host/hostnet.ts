// Host-side network setup with iproute2: bring the TAP up and give it the host's address, or
// attach it to a bridge; undo exactly what was done on exit. A TAP we created disappears by
// itself when its file descriptor closes; a TAP that already existed is left as it was found.
import { execFile } from 'node:child_process';
import { formatIpv4Cidr } from '../wire/address.js';
import type { MachineConfig } from '../board/config.js';
import { setupUplink, UplinkInputError, type IpCommand } from './uplink.js';
import type { BridgeOps } from './reattach.js';

export class HostNetError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Run `ip ARGS`; resolves with stdout, rejects with ip's own message. */
export const ip: IpCommand = (args) =>
  new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new HostNetError(missing ? 'the `ip` command is missing: install iproute2' : `ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      } else resolve(String(stdout));
    });
  });

export async function linkExists(name: string): Promise<boolean> {
  try {
    await ip(['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

interface LinkInfo {
  ifname: string;
  linkinfo?: { info_kind?: string };
}

/** Set up the host side of an open TAP. Returns the teardown, which never throws. */
export async function setupHostNet(cfg: MachineConfig, tap: string, tapExisted: boolean): Promise<() => Promise<void>> {
  const undo: Array<() => Promise<unknown>> = [];
  const teardown = async (): Promise<void> => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  };
  try {
    if (cfg.mtu !== 1500) await ip(['link', 'set', 'dev', tap, 'mtu', String(cfg.mtu)]);
    if (cfg.bridge) {
      const br = cfg.bridge;
      let info: LinkInfo[];
      try {
        info = JSON.parse(await ip(['-j', '-d', 'link', 'show', 'dev', br])) as LinkInfo[];
      } catch {
        throw new HostNetError(`--bridge ${br}: no such interface (create it first: ip link add ${br} type bridge)`, 2);
      }
      if (info[0]?.linkinfo?.info_kind !== 'bridge') throw new HostNetError(`--bridge ${br}: not a bridge (it is ${info[0]?.linkinfo?.info_kind ?? 'a plain interface'})`, 2);
      // Joining the bridge and coming up in one `ip` (one netlink request: the master, then the
      // flags): each `ip` run is a fork and an exec on the way to the first reply.
      await ip(['link', 'set', 'dev', tap, 'master', br, 'up']);
      if (tapExisted) undo.push(() => ip(['link', 'set', 'dev', tap, 'nomaster']));
    } else if (cfg.uplink) {
      const bridge = uplinkBridgeName(tap);
      try {
        undo.push(await setupUplink(ip, { uplink: cfg.uplink, tap, bridge }));
      } catch (e) {
        throw new HostNetError(`--uplink ${cfg.uplink}: ${(e as Error).message}`, e instanceof UplinkInputError ? 2 : 1);
      }
    }
    if (!cfg.bridge) await ip(['link', 'set', 'dev', tap, 'up']);
    if (tapExisted) undo.push(() => ip(['link', 'set', 'dev', tap, 'down']));
    if (cfg.hostIp && !cfg.bridge && !cfg.uplink) {
      const cidr = formatIpv4Cidr(cfg.hostIp);
      await ip(['addr', 'replace', cidr, 'dev', tap]);
      if (tapExisted) undo.push(() => ip(['addr', 'del', cidr, 'dev', tap]));
    }
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}

/** The bridge `--uplink` makes for the TAP. */
export function uplinkBridgeName(tap: string): string {
  return `nsbr-${tap}`.slice(0, 15);
}

/** The bridge this config attaches the TAP to (--bridge, or the uplink's), if any. */
export function tapMaster(cfg: MachineConfig, tap: string): string | undefined {
  return cfg.bridge ?? (cfg.uplink ? uplinkBridgeName(tap) : undefined);
}

/** Set up a TAP opened again after it was deleted, as setupHostNet did: MTU, bridge, up, address. */
export async function restoreTap(cfg: MachineConfig, tap: string): Promise<void> {
  if (cfg.mtu !== 1500) await ip(['link', 'set', 'dev', tap, 'mtu', String(cfg.mtu)]);
  const master = tapMaster(cfg, tap);
  if (master && (await linkExists(master))) await ip(['link', 'set', 'dev', tap, 'master', master]);
  await ip(['link', 'set', 'dev', tap, 'up']);
  if (cfg.hostIp && !master) await ip(['addr', 'replace', formatIpv4Cidr(cfg.hostIp), 'dev', tap]);
}

/** The bridge watch's view of the host, through `ip`. */
export const ipBridgeOps: BridgeOps = {
  masterOf: async (tap) => (JSON.parse(await ip(['-j', 'link', 'show', 'dev', tap])) as Array<{ master?: string }>)[0]?.master,
  exists: linkExists,
  attach: async (tap, bridge) => {
    await ip(['link', 'set', 'dev', tap, 'master', bridge]);
    await ip(['link', 'set', 'dev', tap, 'up']);
  },
};
