// host/netlink: the host's links through rtnetlink in the addon (native/netlink.cc), in this
// process's network namespace. On the way to the first reply a boot asks two questions (did the
// TAP exist, is the bridge a bridge), makes a few changes (MTU, bridge, up, address) and starts
// watching the bridge; done with `ip` that was three forks and execs plus loading
// node:child_process, ~20 ms of a ~145 ms boot on the 2-core VM (issue 8). The addon sends what
// `ip` sends and reports what `ip` would print. Without the addon (not built) nothing here is
// available and hostnet.ts runs `ip` as before; a TAP needs the addon anyway.
import { loadNativeAddon } from '../link/tap.js';

/** What native/netlink.cc adds to the addon's exports. */
export interface NativeNetlink {
  /** The link's kind as `ip -d link show` names it ("bridge", "tun", "veth"), "" for none, null when there is no such link. */
  linkKind(name: string): string | null;
  /** The name of the link's master ("" for none), null when there is no such link. */
  linkMaster(name: string): string | null;
  /** `ip link set dev NAME [mtu MTU] [master MASTER] [up]` as one request; mtu 0 and master "" leave those alone. Throws ip's message. */
  linkSet(name: string, mtu: number, master: string, up: boolean): void;
  /** `ip addr replace ADDR/PREFIXLEN dev NAME` for an IPv4 address. Throws ip's message. */
  addrReplace(name: string, addr: number, prefixLen: number): void;
  /** Calls back once per burst of link changes (RTNLGRP_LINK); never holds the process alive. */
  LinkMonitor: new (onEvents: () => void) => { close(): void };
}

let cached: NativeNetlink | null | undefined;

/** The addon's netlink calls, or undefined when the addon is not built (or predates them). */
export function nativeNetlink(): NativeNetlink | undefined {
  if (cached === undefined) {
    try {
      const addon = loadNativeAddon() as unknown as Partial<NativeNetlink>;
      cached = typeof addon.linkSet === 'function' && typeof addon.LinkMonitor === 'function' ? (addon as NativeNetlink) : null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
