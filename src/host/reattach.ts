// The TAP (or the bridge it was attached to) deleted under the running machine (`ip link del`):
// the machine keeps running and reattaches when it can. A wrapper Link, not a change to the addon:
// when the TAP reports that it is gone (the addon stops polling and reports one error), this link
// closes it, logs one line, and tries to open a new TAP of the same name with a doubling backoff
// (a TAP we created ourselves is created again; one that existed before is waited for), then has
// the host side set up again (up, address or bridge) and logs one line. In between, frames to send
// are dropped and counted. Retries log nothing: no flood however long the TAP stays away.
//
// The bridge: a TAP survives its bridge's deletion, unattached. `watchBridge` listens to link
// events (netlink's RTNLGRP_LINK through the addon, or `ip monitor link` without it: an event when
// any link changes, no polling) and re-attaches the TAP when the bridge is back, with the same one
// line when it goes and one when it is back.
import type { ChildProcess } from 'node:child_process';
import { nativeNetlink } from './netlink.js';
import { emptyLinkStats, type Link, type LinkReceiver, type LinkStats } from '../link/link.js';

/** Error codes with which the addon reports a TAP that went away (it stops receiving after them). */
const GONE_CODES = new Set(['EBADF', 'EBADFD', 'EIO', 'ENODEV', 'ENXIO', 'EINVAL', 'EFAULT']);

export function isLinkGone(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && GONE_CODES.has(code);
}

/** What the reattaching link logs; pino's Logger fits. */
export interface ReattachLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ReattachOptions {
  /** Open a new link of the same name (throws while it cannot). */
  open(): Link;
  /** May a reopen be tried now? (A TAP that existed before we started: only once it exists again.) */
  canOpen(): Promise<boolean>;
  /** Set the host side of the reopened TAP up again (up, MTU, address or bridge). */
  restore(name: string): Promise<void>;
  log: ReattachLog;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** The counters every link keeps, summed over the links opened one after the other. */
const SUMMED = ['rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'txDropped', 'rxErrors', 'txTsoWrites', 'txTsoSegments'] as const;
type Summed = (typeof SUMMED)[number];

export interface ReattachStats extends LinkStats {
  /** Times the link went away, and times it was opened again. */
  linkLost: number;
  linkReattached: number;
  /** Frames not sent because there was no link at that moment. */
  txWhileDetached: number;
}

export class ReattachingLink implements Link {
  readonly name: string;
  readonly mtu: number;
  private current: Link | undefined;
  private rx: LinkReceiver | undefined;
  /** Counters of the links already closed, so the totals survive a reattach. */
  private readonly past: Record<Summed, number> = { ...emptyLinkStats(), txTsoWrites: 0, txTsoSegments: 0 };
  private readonly own = { linkLost: 0, linkReattached: 0, txWhileDetached: 0 };
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private closed = false;
  private attempting = false;

  constructor(first: Link, private readonly opts: ReattachOptions) {
    this.current = first;
    this.name = first.name;
    this.mtu = first.mtu;
    this.delayMs = opts.minDelayMs ?? 100;
  }

  get stats(): ReattachStats {
    const c = this.current?.stats ?? emptyLinkStats();
    const sum = (k: Summed): number => this.past[k] + (c[k] ?? 0);
    return {
      rxFrames: sum('rxFrames'),
      rxBytes: sum('rxBytes'),
      txFrames: sum('txFrames'),
      txBytes: sum('txBytes'),
      txDropped: sum('txDropped') + this.own.txWhileDetached,
      rxErrors: sum('rxErrors'),
      txTsoWrites: sum('txTsoWrites'),
      txTsoSegments: sum('txTsoSegments'),
      ...this.own,
    };
  }

  /** True while the link is away. */
  get detached(): boolean {
    return this.current === undefined;
  }

  send(frame: Uint8Array): boolean {
    if (!this.current) {
      this.own.txWhileDetached++;
      return false;
    }
    return this.current.send(frame);
  }

  hold(): void {
    this.current?.hold?.();
  }

  flush(): void {
    this.current?.flush?.();
  }

  attach(rx: LinkReceiver): void {
    this.rx = rx;
    if (this.current) this.attachTo(this.current);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current?.close();
  }

  private attachTo(link: Link): void {
    const rx = this.rx!;
    link.attach({
      onFrames: (batch) => {
        if (link === this.current) rx.onFrames(batch);
      },
      onError: (err) => {
        if (link !== this.current) return;
        if (isLinkGone(err)) this.lost(link, err);
        else rx.onError(err);
      },
    });
  }

  private lost(link: Link, err: Error): void {
    this.own.linkLost++;
    this.fold(link);
    this.current = undefined;
    try {
      link.close();
    } catch {
      /* already unusable */
    }
    this.opts.log.warn({ link: this.name, err: err.message }, 'link gone: the guests keep running; reattaching when it is back');
    this.delayMs = this.opts.minDelayMs ?? 100;
    this.schedule();
  }

  private fold(link: Link): void {
    const s = link.stats;
    for (const k of SUMMED) this.past[k] += s[k] ?? 0;
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.opts.maxDelayMs ?? 5000);
  }

  private async attempt(): Promise<void> {
    if (this.closed || this.current || this.attempting) return;
    this.attempting = true;
    try {
      if (!(await this.opts.canOpen())) return;
      if (this.closed) return;
      let link: Link;
      try {
        link = this.opts.open();
      } catch {
        return;
      }
      if (this.closed) {
        link.close();
        return;
      }
      try {
        await this.opts.restore(link.name);
      } catch {
        // Set up what could be; the next loss or the bridge watch tries again. Not a reason to
        // drop a TAP that receives.
      }
      if (this.closed) {
        link.close();
        return;
      }
      this.current = link;
      if (this.rx) this.attachTo(link);
      this.own.linkReattached++;
      this.opts.log.info({ link: this.name }, 'link back: reattached');
    } finally {
      this.attempting = false;
      if (!this.current) this.schedule();
    }
  }
}

/** How the bridge watch reads and changes the TAP's master; `ip` commands in production. */
export interface BridgeOps {
  /** The TAP's master now, undefined when it has none; throws when the TAP does not exist. */
  masterOf(tap: string): Promise<string | undefined>;
  exists(name: string): Promise<boolean>;
  /** Attach the TAP to the bridge and bring it up. */
  attach(tap: string, bridge: string): Promise<void>;
}

/**
 * Keep `tap` attached to `bridge`: check when a link event arrives (`events` calls back), log once
 * when the bridge is gone and once when the TAP is attached again. Returns the stop function.
 */
export function watchBridge(tap: string, bridge: string, ops: BridgeOps, log: ReattachLog, events: (onEvent: () => void) => () => void): () => void {
  let gone = false;
  let checking = false;
  let again = false;
  let stopped = false;
  const check = async (): Promise<void> => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        let master: string | undefined;
        try {
          master = await ops.masterOf(tap);
        } catch {
          continue; // the TAP itself is away: the reattaching link brings it back, with its bridge
        }
        if (master === bridge || stopped) continue;
        if (!(await ops.exists(bridge))) {
          if (!gone) log.warn({ tap, bridge }, 'bridge gone: the guests keep running; reattaching the TAP when it is back');
          gone = true;
          continue;
        }
        try {
          await ops.attach(tap, bridge);
          if (gone) log.info({ tap, bridge }, 'bridge back: TAP reattached');
          gone = false;
        } catch {
          /* tried again at the next event */
        }
      } while (again && !stopped);
    } finally {
      checking = false;
    }
  };
  const unsubscribe = events(() => void check());
  return () => {
    stopped = true;
    unsubscribe();
  };
}

/**
 * Link events: the addon's netlink listener (no process, nothing to load), else `ip -o monitor
 * link` (one child process for the machine's life, killed by PID on stop). Returns the stop function.
 */
export function linkEvents(onEvent: () => void): () => void {
  const nl = nativeNetlink();
  if (nl) {
    try {
      const monitor = new nl.LinkMonitor(onEvent);
      return () => monitor.close();
    } catch {
      // No netlink socket (a sandbox that refuses AF_NETLINK): `ip` may still be allowed one.
    }
  }
  return ipMonitorLinkEvents(onEvent);
}

/** Link events from `ip -o monitor link` (one child process for the machine's life, killed by PID on stop). */
export function ipMonitorLinkEvents(onEvent: () => void): () => void {
  let child: ChildProcess | undefined;
  let stopped = false;
  void import('node:child_process').then(({ spawn }) => {
    if (stopped) return;
    try {
      child = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return; // no watch (a spawn that throws: ENOMEM, EPERM); the TAP's own reattach still works
    }
    child.on('error', () => undefined);
    child.stdout!.on('data', () => onEvent());
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
  });
  return () => {
    stopped = true;
    child?.kill('SIGTERM');
    child = undefined;
  };
}
