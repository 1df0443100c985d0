// Opening the NIC's cable named by the config's `link`: a TAP (with the host side set up: address,
// bridge or uplink) or a VXLAN UDP socket. Returns the link and how to undo what was done; a
// failure is a LinkOpenError with one line and the exit code the CLI returns. The VXLAN link (and
// node:dgram) is imported only when the config names one.
import type { Link } from '../link/link.js';
import { TapLink, TapError } from '../link/tap.js';
import type { MachineConfig } from '../board/config.js';
import { setupHostNet, linkKindsOf, listLinks, HostNetError } from './hostnet.js';

export class LinkOpenError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export interface OpenedLink {
  link: Link;
  /** Undo the host setup; never throws. Closing the link is the caller's. */
  teardown(): Promise<void>;
  /** What the `ready` log line says about the link. */
  describe: Record<string, unknown>;
  /** A TAP: whether it existed before we opened it (then it is never created again by us). */
  tapExisted?: boolean;
}

export async function openLink(cfg: MachineConfig): Promise<OpenedLink> {
  const spec = cfg.link;
  switch (spec.kind) {
    case 'tap': {
      // Both questions asked before the TAP is opened (did it exist, what is the bridge) through
      // netlink, or with one `ip` when the addon cannot.
      const links = linkKindsOf([spec.name, cfg.bridge]) ?? (await listLinks());
      const tapExisted = links?.has(spec.name) ?? false;
      let tap: TapLink;
      try {
        tap = TapLink.open(spec.name, { mtu: cfg.mtu, tso: cfg.tso });
      } catch (e) {
        // The addon's messages are already one line naming the missing flag or privilege.
        if (e instanceof TapError) throw new LinkOpenError(e.message, e.code === 'ENOADDON' ? 1 : 2);
        throw e;
      }
      try {
        const teardown = await setupHostNet(cfg, tap.name, tapExisted, links);
        return { link: tap, teardown, describe: { tap: tap.name }, tapExisted };
      } catch (e) {
        tap.close();
        if (e instanceof HostNetError) throw new LinkOpenError(e.message, e.exitCode);
        throw e;
      }
    }
    case 'vxlan': {
      const { VxlanLink, VxlanError } = await import('../link/vxlan.js');
      try {
        const link = await VxlanLink.open({ vni: spec.vni, remotes: spec.remotes, local: spec.local, mtu: cfg.mtu });
        const ep = (e: { addr: string; port: number }) => `${e.addr}:${e.port}`;
        return { link, teardown: async () => {}, describe: { link: 'vxlan', vni: spec.vni, local: ep(spec.local), remotes: spec.remotes.map(ep) } };
      } catch (e) {
        if (e instanceof VxlanError) throw new LinkOpenError(`--link: ${e.message}`, 2);
        throw e;
      }
    }
    case 'pcap':
      // A replay has no device to open: `run` hands it to cli/replay.ts before it opens a link.
      throw new LinkOpenError('--link pcap: a replay is not a live link (nanoshare run replays it)', 2);
  }
}
