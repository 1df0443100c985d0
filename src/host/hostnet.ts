// Host-side network setup, said as iproute2 commands: bring the TAP up and give it the host's
// address, or attach it to a bridge; undo exactly what was done on exit. A TAP we created
// disappears by itself when its file descriptor closes; a TAP that already existed is left as it
// was found. A boot asks its questions before the TAP is opened (did it exist? is the bridge a
// bridge?) and then runs every change (MTU, bridge or up, address) as one batch, whose failure is
// reported as the one command that failed, with ip's own message. Each `ip` run is a fork and an
// exec on the way to the first reply (issue 8), so both go through rtnetlink in the addon
// (host/netlink.ts) when it is built: the batch's commands it knows are sent as `ip` would send
// them, anything else goes to one `ip -batch -`. node:child_process itself is loaded only when
// `ip` runs (~5 ms of loading).
import type { ChildProcess } from 'node:child_process';
import { formatIpv4Cidr, parseIpv4Cidr } from '../wire/address.js';
import { nativeNetlink, type NativeNetlink } from './netlink.js';
import type { MachineConfig } from '../board/config.js';
import { setupUplink, UplinkInputError, type IpCommand } from './uplink.js';
import type { BridgeOps } from './reattach.js';

export class HostNetError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** The one-line error of an `ip` run that failed, from its stderr (or why it did not run). */
function ipFailure(args: readonly string[], err: Error, stderr: string): HostNetError {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
  return new HostNetError(missing ? 'the `ip` command is missing: install iproute2' : `ip ${args.join(' ')}: ${stderr.trim() || err.message}`);
}

/** execFile, with node:child_process loaded at its first use. */
async function execFile(file: string, args: readonly string[], done: (err: Error | null, stdout: string, stderr: string) => void): Promise<ChildProcess> {
  const cp = await import('node:child_process');
  return cp.execFile(file, args, { timeout: 10_000, encoding: 'utf8' }, done);
}

/** Run `ip ARGS`; resolves with stdout, rejects with ip's own message. */
export const ip: IpCommand = (args) =>
  new Promise((resolve, reject) => {
    execFile('ip', args, (err, stdout, stderr) => {
      if (err) reject(ipFailure(args, err, String(stderr)));
      else resolve(String(stdout));
    }).catch(reject); // a spawn that throws (ENOMEM, EPERM) rejects like any other failure
  });

/** Several `ip` commands run in order by one `ip -batch -`; rejects with an IpBatchError naming the first that failed. */
export interface IpBatch {
  (commands: ReadonlyArray<readonly string[]>): Promise<void>;
}

/** A batch stopped at `index` (the commands before it were done, the ones after it were not run). */
export class IpBatchError extends HostNetError {
  constructor(message: string, readonly index: number) {
    super(message);
  }
}

/**
 * Which command of a batch of `count` failed, and ip's message for it, from `ip -batch`'s stderr
 * (ip's message, then "Command failed -:N" with N counted from 1). Undefined when stderr does not
 * say (then nothing can be said about which commands were done).
 */
export function batchFailure(stderr: string, count: number): { index: number; message: string } | undefined {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => /^Command failed -:\d+$/.test(l.trim()));
  if (at < 0) return undefined;
  const index = Number(/(\d+)$/.exec(lines[at]!.trim())![1]) - 1;
  if (index < 0 || index >= count) return undefined;
  return { index, message: lines.slice(0, at).map((l) => l.trim()).filter((l) => l.length > 0).join('; ') || 'failed' };
}

/** One batch line: ip splits it on white space, so an argument holding any cannot be passed (a validated config never has one). */
function batchLine(args: readonly string[]): string {
  for (const a of args) {
    if (a.length === 0 || /[\s"'\\#]/.test(a)) throw new HostNetError(`ip ${args.join(' ')}: argument ${JSON.stringify(a)} cannot be passed to ip -batch`);
  }
  return args.join(' ');
}

/** Run `commands` with one `ip -batch -` (one fork and exec instead of one per command). */
export const ipBatch: IpBatch = (commands) =>
  new Promise((resolve, reject) => {
    if (commands.length === 0) return resolve();
    let input: string;
    try {
      input = commands.map(batchLine).join('\n') + '\n';
    } catch (e) {
      return reject(e);
    }
    execFile('ip', ['-batch', '-'], (err, _stdout, stderr) => {
      if (!err) return resolve();
      const failed = batchFailure(String(stderr), commands.length);
      if (failed) reject(new IpBatchError(`ip ${commands[failed.index]!.join(' ')}: ${failed.message}`, failed.index));
      else reject(ipFailure(['-batch', '-'], err, String(stderr)));
    }).then((child) => {
      child.stdin?.on('error', () => undefined); // ip gone before reading (ENOENT): the callback reports it
      child.stdin?.end(input);
    }, reject);
  });

/**
 * One batch command done through netlink as `ip` would do it, true when done; false (and nothing
 * done) when it is not one of the forms setupHostNet and restoreTap make: `link set dev D` with
 * `mtu N`, `master M` and `up`, and `addr replace A/P dev D`. Throws ip's message.
 */
export function netlinkCommand(nl: Pick<NativeNetlink, 'linkSet' | 'addrReplace'>, args: readonly string[]): boolean {
  if (args[0] === 'link' && args[1] === 'set' && args[2] === 'dev' && args.length > 4) {
    let mtu = 0;
    let master = '';
    let up = false;
    for (let i = 4; i < args.length; i++) {
      const a = args[i];
      if (a === 'up') up = true;
      else if (a === 'mtu' && /^[1-9]\d{0,8}$/.test(args[i + 1] ?? '')) mtu = Number(args[++i]);
      else if (a === 'master' && args[i + 1] !== undefined) master = args[++i]!;
      else return false;
    }
    nl.linkSet(args[3]!, mtu, master, up);
    return true;
  }
  if (args[0] === 'addr' && args[1] === 'replace' && args[3] === 'dev' && args.length === 5) {
    const cidr = parseIpv4Cidr(args[2]!);
    if (!cidr) return false;
    nl.addrReplace(args[4]!, cidr.addr, cidr.prefixLen);
    return true;
  }
  return false;
}

/** A batch through netlink (netlinkCommand), the rest of it, from the first command netlink does not do, with one `ip -batch -`. */
export function netlinkBatch(nl: Pick<NativeNetlink, 'linkSet' | 'addrReplace'>, rest: IpBatch = ipBatch): IpBatch {
  return async (commands) => {
    for (let i = 0; i < commands.length; i++) {
      const args = commands[i]!;
      let done: boolean;
      try {
        done = netlinkCommand(nl, args);
      } catch (e) {
        throw new IpBatchError(`ip ${args.join(' ')}: ${(e as Error).message}`, i);
      }
      if (done) continue;
      try {
        return await rest(commands.slice(i));
      } catch (e) {
        // The commands before i were done (through netlink) either way: say so, so they are undone.
        if (e instanceof IpBatchError) throw new IpBatchError(e.message, e.index + i);
        throw new IpBatchError((e as Error).message, i);
      }
    }
  };
}

/** How the changes are made here: netlink when the addon has it, else `ip -batch`. */
function defaultBatch(): IpBatch {
  const nl = nativeNetlink();
  return nl ? netlinkBatch(nl) : ipBatch;
}

export async function linkExists(name: string): Promise<boolean> {
  const nl = nativeNetlink();
  if (nl) {
    try {
      return nl.linkKind(name) !== null;
    } catch {
      // The kernel would not say (netlink refused, no answer): ask ip.
    }
  }
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

/** The links of this network namespace by name, with their kind ('' for a plain interface). */
export type LinkKinds = ReadonlyMap<string, string>;

/**
 * The kinds of the links named (those that exist), asked through netlink; undefined without the
 * addon or when the kernel will not say (then listLinks asks `ip`).
 */
export function linkKindsOf(names: ReadonlyArray<string | undefined>): LinkKinds | undefined {
  const nl = nativeNetlink();
  if (!nl) return undefined;
  const kinds = new Map<string, string>();
  try {
    for (const name of names) {
      if (name === undefined) continue;
      const kind = nl.linkKind(name);
      if (kind !== null) kinds.set(name, kind);
    }
  } catch {
    return undefined;
  }
  return kinds;
}

/** Every link and its kind, from one `ip -j -d link show`; undefined when ip cannot say (then each question is asked on its own). */
export async function listLinks(run: IpCommand = ip): Promise<LinkKinds | undefined> {
  try {
    const links = JSON.parse(await run(['-j', '-d', 'link', 'show'])) as LinkInfo[];
    return new Map(links.map((l) => [l.ifname, l.linkinfo?.info_kind ?? '']));
  } catch {
    return undefined;
  }
}

/** The kind of link `name` ('' for a plain interface), or undefined when there is none: from `links`, else asked. */
async function kindOf(name: string, links: LinkKinds | undefined, run: IpCommand): Promise<string | undefined> {
  if (links) return links.get(name);
  try {
    return (JSON.parse(await run(['-j', '-d', 'link', 'show', 'dev', name])) as LinkInfo[])[0]?.linkinfo?.info_kind ?? '';
  } catch {
    return undefined;
  }
}

/** A change of the host and what undoes it (only a TAP that existed before is restored: one we created goes with us). */
interface Step {
  args: string[];
  undo: string[][];
}

/** How setupHostNet reaches iproute2 (the real `ip` unless a test gives a fake). */
export interface HostNetIp {
  ip: IpCommand;
  batch: IpBatch;
}

/**
 * Set up the host side of an open TAP. `links`: the links before the TAP was opened (listLinks).
 * Returns the teardown, which never throws.
 */
export async function setupHostNet(cfg: MachineConfig, tap: string, tapExisted: boolean, links?: LinkKinds, run: HostNetIp = { ip, batch: defaultBatch() }): Promise<() => Promise<void>> {
  const undo: Array<() => Promise<unknown>> = [];
  const teardown = async (): Promise<void> => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  };
  const keep = (step: Step): void => {
    for (const u of step.undo) undo.push(() => run.ip(u));
  };
  /** Run the steps in one batch; what was done is undone by the teardown, also when a later one failed. */
  const apply = async (steps: Step[]): Promise<void> => {
    try {
      await run.batch(steps.map((s) => s.args));
    } catch (e) {
      if (e instanceof IpBatchError) steps.slice(0, e.index).forEach(keep);
      throw e;
    }
    steps.forEach(keep);
  };
  const restore = (...u: string[][]): string[][] => (tapExisted ? u : []);
  try {
    const steps: Step[] = [];
    if (cfg.mtu !== 1500) steps.push({ args: ['link', 'set', 'dev', tap, 'mtu', String(cfg.mtu)], undo: [] });
    if (cfg.bridge) {
      const br = cfg.bridge;
      const kind = await kindOf(br, links, run.ip);
      if (kind === undefined) throw new HostNetError(`--bridge ${br}: no such interface (create it first: ip link add ${br} type bridge)`, 2);
      if (kind !== 'bridge') throw new HostNetError(`--bridge ${br}: not a bridge (it is ${kind || 'a plain interface'})`, 2);
      // Joining the bridge and coming up in one command (one netlink request: the master, then the flags).
      steps.push({ args: ['link', 'set', 'dev', tap, 'master', br, 'up'], undo: restore(['link', 'set', 'dev', tap, 'nomaster'], ['link', 'set', 'dev', tap, 'down']) });
    } else {
      if (cfg.uplink) {
        await apply(steps.splice(0)); // the MTU before the uplink, as it always was
        const bridge = uplinkBridgeName(tap);
        try {
          undo.push(await setupUplink(run.ip, { uplink: cfg.uplink, tap, bridge }));
        } catch (e) {
          throw new HostNetError(`--uplink ${cfg.uplink}: ${(e as Error).message}`, e instanceof UplinkInputError ? 2 : 1);
        }
      }
      steps.push({ args: ['link', 'set', 'dev', tap, 'up'], undo: restore(['link', 'set', 'dev', tap, 'down']) });
      if (cfg.hostIp && !cfg.uplink) {
        const cidr = formatIpv4Cidr(cfg.hostIp);
        steps.push({ args: ['addr', 'replace', cidr, 'dev', tap], undo: restore(['addr', 'del', cidr, 'dev', tap]) });
      }
    }
    await apply(steps);
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

/** Set up a TAP opened again after it was deleted, as setupHostNet did: MTU, bridge, up, address (one batch). */
export async function restoreTap(cfg: MachineConfig, tap: string): Promise<void> {
  const commands: string[][] = [];
  if (cfg.mtu !== 1500) commands.push(['link', 'set', 'dev', tap, 'mtu', String(cfg.mtu)]);
  const master = tapMaster(cfg, tap);
  if (master && (await linkExists(master))) commands.push(['link', 'set', 'dev', tap, 'master', master]);
  commands.push(['link', 'set', 'dev', tap, 'up']);
  if (cfg.hostIp && !master) commands.push(['addr', 'replace', formatIpv4Cidr(cfg.hostIp), 'dev', tap]);
  await defaultBatch()(commands);
}

/** The bridge watch's view of the host: through netlink in the addon, `ip` without it. */
export const ipBridgeOps: BridgeOps = {
  masterOf: async (tap) => {
    const nl = nativeNetlink();
    if (nl) {
      const master = nl.linkMaster(tap);
      if (master === null) throw new HostNetError(`Device "${tap}" does not exist.`);
      return master || undefined;
    }
    return (JSON.parse(await ip(['-j', 'link', 'show', 'dev', tap])) as Array<{ master?: string }>)[0]?.master;
  },
  exists: linkExists,
  attach: (tap, bridge) => defaultBatch()([['link', 'set', 'dev', tap, 'master', bridge, 'up']]),
};
