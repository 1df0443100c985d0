// `nanoshare run`: open the link (a TAP with its host side set up, or a VXLAN socket; a pcap link
// is a replay, cli/replay.ts), serve the
// control socket, boot the machine, log `ready`; stop on SIGINT/SIGTERM/SIGHUP or a fatal error. The stop handlers are installed
// before the first host change (host/lifecycle.ts), so a signal during setup, a second Ctrl-C or
// an uncaught error still ends in the same ordered stop: the nanokernel stops dispatching, then
// the clock closes, then the link (a TAP we created disappears with it) and the capture, then the
// host network setup is undone (`--uplink` gets its addresses and routes back).
// What only some runs use is imported when it is used (the metrics endpoint with prom-client and
// node:http, the capture writers, the replay): a machine boots without loading it.
import { formatIpv4, formatIpv4Cidr, formatMac } from '../wire/address.js';
import type { ProbeOutcome } from '../net/index.js';
import type { Server as HttpServer } from 'node:http';
import type { Link } from '../link/link.js';
import type { CaptureSink } from '../capture/file-sink.js';
import type { Capture } from '../capture/capture.js';
import type { MachineConfig } from '../board/config.js';
import { openLink, LinkOpenError } from '../host/link-open.js';
import { TapLink } from '../link/tap.js';
import { linkExists, restoreTap, tapMaster, ipBridgeOps } from '../host/hostnet.js';
import { ReattachingLink, watchBridge, linkEvents } from '../host/reattach.js';
import { SystemClock } from '../host/clock.js';
import { Lifecycle } from '../host/lifecycle.js';
import { buildMachine, describeGuests, type Machine } from '../board/machine.js';
import { serveControl, defaultControlPath, ControlPathError, type ControlServer } from '../host/control.js';
import { summarize } from './stats.js';
import { runLogger, type RunLog } from './log.js';

export async function runMachine(cfg: MachineConfig): Promise<number> {
  // A capture as the cable: no device and no host side, a virtual clock (cli/replay.ts).
  if (cfg.link.kind === 'pcap') return (await import('./replay.js')).runReplay(cfg, cfg.link.path, cfg.link.pace);
  const log: RunLog = await runLogger(cfg.logLevel, cfg.logFormat, 2, process.stderr.isTTY === true);
  const life = new Lifecycle(log).install();

  // What is up so far; stop() takes down whatever of it exists, in order, once.
  let machine: Machine | undefined;
  let clock: SystemClock | undefined;
  let link: Link | undefined;
  let sink: CaptureSink | undefined;
  let capture: Capture | undefined;
  let control: ControlServer | undefined;
  let teardownNet: (() => Promise<void>) | undefined;
  let describeLink: Record<string, unknown> = {};
  let statsTimer: NodeJS.Timeout | undefined;
  let metrics: HttpServer | undefined;
  let stopBridgeWatch: (() => void) | undefined;
  const stop = async (): Promise<void> => {
    if (statsTimer) clearInterval(statsTimer);
    const steps: Array<[string, () => unknown]> = [
      ['close the metrics endpoint', () => metrics?.close()],
      ['stop dispatching', () => machine?.stop()],
      ['stop watching the bridge', () => stopBridgeWatch?.()],
      ['close the clock', () => clock?.close()],
      ['close the link', () => link?.close()],
      ['close the capture', () => sink?.close()],
      ['close the control socket', () => control?.close()],
      ['undo the host network setup', () => teardownNet?.()],
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (e) {
        log.error({ err: (e as Error).message }, `stop: cannot ${what}`);
      }
    }
    life.uninstall();
  };
  /** Exit early with one line on stderr, after undoing what was done. */
  const fail = async (message: string, code: number): Promise<number> => {
    await stop();
    process.stderr.write(`nanoshare: ${message}\n`);
    return code;
  };
  const stoppedEarly = async (): Promise<number> => {
    const reason = await life.stopRequested;
    await stop();
    log.info({ signal: reason.kind === 'signal' ? reason.signal : undefined, beforeReady: true }, 'stopped');
    return reason.kind === 'signal' && !life.fatalError ? 0 : 1;
  };

  try {
    return await boot();
  } catch (e) {
    // An error of our own during boot: undo what was done, then let main report it (exit 1).
    await stop();
    throw e;
  }

  async function boot(): Promise<number> {
    try {
      const opened = await openLink(cfg);
      link = opened.link;
      teardownNet = opened.teardown;
      describeLink = opened.describe;
      if (cfg.link.kind === 'tap') {
        // A TAP deleted under us is opened again (created again if it was ours), and re-attached
        // to its bridge when the bridge comes back (host/reattach.ts).
        const name = opened.link.name;
        const existed = opened.tapExisted === true;
        link = new ReattachingLink(opened.link, {
          open: () => TapLink.open(name, { mtu: cfg.mtu, tso: cfg.tso }),
          canOpen: async () => !existed || (await linkExists(name)),
          restore: (tap) => restoreTap(cfg, tap),
          log,
        });
        const master = tapMaster(cfg, name);
        if (master) stopBridgeWatch = watchBridge(name, master, ipBridgeOps, log, linkEvents);
      }
    } catch (e) {
      if (e instanceof LinkOpenError) return fail(e.message, e.exitCode);
      throw e;
    }
    const cable = link;
    if (life.stopping) return stoppedEarly();

    const controlPath = cfg.control ?? defaultControlPath(cable.name);
    try {
      control = await serveControl(controlPath, {
        stats: () => (machine ? { ...machine.stats(), capture: sink?.counters, memory: process.memoryUsage() } : { booting: true }),
        resetLateness: () => {
          for (const g of machine?.guests.values() ?? []) g.control?.resetLateness();
        },
        gc: () => {
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          return gc !== undefined;
        },
        reboot: (name) => {
          const ok = machine?.nanokernel.reboot(name) ?? false;
          if (ok) log.info({ guest: name }, 'guest rebooted on request');
          return ok;
        },
      });
    } catch (e) {
      if (e instanceof ControlPathError) return fail(e.message, 2);
      log.warn({ control: controlPath, err: (e as Error).message }, 'control socket unavailable; `nanoshare stats` will not reach this machine');
    }
    if (life.stopping) return stoppedEarly();

    if (cfg.capture) {
      const [{ openConfiguredCapture }, { wallClockNs }] = await Promise.all([import('./capture.js'), import('../capture/file-sink.js')]);
      try {
        ({ capture, sink } = openConfiguredCapture({ ...cfg, capture: cfg.capture }, wallClockNs, cable.name, log));
      } catch (e) {
        return fail(`--capture ${cfg.capture}: ${(e as Error).message}`, 2);
      }
    }

    clock = new SystemClock();
    // RFC 5227: each guest probes its address at boot; `ready` waits for every probe to end.
    const probed = new Map<string, ProbeOutcome>();
    let allProbed: () => void = () => {};
    const probesDone = new Promise<void>((resolve) => (allProbed = resolve));
    // A DHCP guest has no boot probe (its client probes each lease): `ready` does not wait for it.
    const probing = cfg.guests.filter((g) => !g.dhcp).length;
    if (cfg.addressProbe === false || probing === 0) allProbed();
    machine = buildMachine(cfg, link, clock, {
      capture,
      onAddress: (guest, o) => {
        if (o.kind === 'conflict') {
          const ipv4 = formatIpv4(o.ip);
          const mac = formatMac(o.mac);
          log.warn({ guest, ipv4, mac, by: o.by }, `address conflict: ${guest}'s ${ipv4} is in use by ${mac}; ${guest} does not take it (RFC 5227)`);
        }
        probed.set(guest, o);
        if (probed.size === probing) allProbed();
      },
      onNetEvent: (guest, e) => {
        if (e.kind === 'dhcp') log.info({ guest, state: e.state, address: e.addr === 0 ? undefined : formatIpv4(e.addr), server: e.server === 0 ? undefined : formatIpv4(e.server), reason: e.reason }, 'dhcp');
      },
      onFault: (f) => log.error({ guest: f.guest, action: f.action, during: f.during, faults: f.faults, suppressed: f.suppressed, err: f.message, stack: f.stack }, 'guest fault'),
    });
    machine.nic.onLinkError((err) => log.warn({ err: err.message }, 'link error'));
    machine.start();

    await Promise.race([probesDone, life.stopRequested]);
    if (life.stopping) return stoppedEarly();
    if (probing === cfg.guests.length && [...probed.values()].length > 0 && [...probed.values()].every((o) => o.kind === 'conflict')) {
      const which = cfg.guests.map((g) => `${g.name} ${formatIpv4(g.ipv4.addr)}`).join(', ');
      return fail(`every guest's address is in use on the LAN (${which}): no guest took its address (RFC 5227); choose free addresses`, 2);
    }

    if (cfg.metrics) {
      const m = machine;
      const { machineRegistry, serveMetrics } = await import('../host/metrics.js');
      try {
        metrics = await serveMetrics(formatIpv4(cfg.metrics.dst), cfg.metrics.port, machineRegistry(() => m.stats()));
      } catch (e) {
        return fail(`--metrics ${formatIpv4(cfg.metrics.dst)}:${cfg.metrics.port}: ${(e as Error).message}`, 2);
      }
    }

    log.info(
      {
        ...describeLink,
        hostIp: cfg.hostIp ? formatIpv4Cidr(cfg.hostIp) : undefined,
        bridge: cfg.bridge,
        uplink: cfg.uplink,
        capture: cfg.capture,
        metrics: cfg.metrics ? `http://${formatIpv4(cfg.metrics.dst)}:${cfg.metrics.port}/metrics` : undefined,
        control: control?.path,
        txPolicy: cfg.txPolicy,
        highResTimer: clock.highResolution,
        guests: describeGuests(cfg, machine),
      },
      'ready',
    );

    const m = machine;
    if (cfg.statsInterval > 0) statsTimer = setInterval(() => log.info({ stats: summarize(m.stats()), capture: sink?.counters }, 'stats'), cfg.statsInterval * 1000);

    const reason = await life.stopRequested;
    const final = summarize(m.stats());
    await stop();
    log.info({ signal: reason.kind === 'signal' ? reason.signal : undefined, stats: final, captured: sink?.counters.blocks, capturedByView: capture?.counters, capture: sink?.counters }, 'stopped');
    return reason.kind === 'signal' && !life.fatalError ? 0 : 1;
  }
}
