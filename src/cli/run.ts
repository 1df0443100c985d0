// `nanoshare run`: open the link (a TAP with its host side set up, or a VXLAN socket), boot the machine, log `ready`, serve the
// control socket, and on SIGINT/SIGTERM stop in order: capture flushed, TAP closed (a TAP we
// created disappears with it), host setup undone.
import { pino, type Logger } from 'pino';
import type { Server } from 'node:net';
import { formatIpv4, formatIpv4Cidr } from '../wire/address.js';
import type { Server as HttpServer } from 'node:http';
import { machineRegistry, serveMetrics } from '../host/metrics.js';
import type { Link } from '../link/link.js';
import { openCapture } from '../capture/open.js';
import { wallClockNs, type CaptureSink } from '../capture/file-sink.js';
import type { Capture } from '../capture/capture.js';
import type { MachineConfig } from '../board/config.js';
import { openLink, LinkOpenError, type OpenedLink } from '../host/link-open.js';
import { SystemClock } from '../host/clock.js';
import { buildMachine, describeGuests, type Machine } from '../board/machine.js';
import { serveControl, closeControl, defaultControlPath } from '../host/control.js';
import { summarize } from './stats.js';
import { logDestination } from './log.js';

export async function runMachine(cfg: MachineConfig): Promise<number> {
  const log: Logger = pino({ level: cfg.logLevel, base: { pid: process.pid } }, logDestination(cfg.logFormat, 2, process.stderr.isTTY === true));

  let opened: OpenedLink;
  try {
    opened = await openLink(cfg);
  } catch (e) {
    if (e instanceof LinkOpenError) {
      process.stderr.write(`nanoshare: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
  const { link: cable, teardown: teardownNet } = opened;

  let sink: CaptureSink | undefined;
  let capture: Capture | undefined;
  const link: Link = cable;
  if (cfg.capture) {
    try {
      ({ capture, sink } = openCapture(cfg.capture, {
        guests: cfg.guests.map((g) => g.name),
        views: cfg.captureViews,
        snaplen: cfg.captureSnaplen,
        precision: cfg.capturePrecision,
        now: wallClockNs,
        wireDescription: cable.name,
        rotation: cfg.captureMaxMb ? { maxBytes: cfg.captureMaxMb * 1_000_000, files: cfg.captureFiles } : undefined,
      }));
    } catch (e) {
      cable.close();
      await teardownNet();
      process.stderr.write(`nanoshare: --capture ${cfg.capture}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  const clock = new SystemClock();
  const machine: Machine = buildMachine(cfg, link, clock, {
    capture,
    onFault: (f) => log.error({ guest: f.guest, action: f.action, during: f.during, faults: f.faults, suppressed: f.suppressed, err: f.message, stack: f.stack }, 'guest fault'),
  });
  machine.nic.onLinkError((err) => log.warn({ err: err.message }, 'link error'));
  machine.start();

  const controlPath = cfg.control ?? defaultControlPath(cable.name);
  let control: Server | undefined;
  try {
    control = await serveControl(controlPath, {
      stats: () => machine.stats(),
      resetLateness: () => {
        for (const g of machine.guests.values()) g.control?.resetLateness();
      },
      reboot: (name) => {
        const ok = machine.nanokernel.reboot(name);
        if (ok) log.info({ guest: name }, 'guest rebooted on request');
        return ok;
      },
    });
  } catch (e) {
    log.warn({ control: controlPath, err: (e as Error).message }, 'control socket unavailable; `nanoshare stats` will not reach this machine');
  }

  const shutdown = async (): Promise<void> => {
    metrics?.close();
    sink?.close();
    machine.stop();
    clock.close();
    if (control) closeControl(control, controlPath);
    await teardownNet();
  };

  let metrics: HttpServer | undefined;
  if (cfg.metrics) {
    const where = `${formatIpv4(cfg.metrics.dst)}:${cfg.metrics.port}`;
    try {
      metrics = await serveMetrics(formatIpv4(cfg.metrics.dst), cfg.metrics.port, machineRegistry(() => machine.stats()));
    } catch (e) {
      await shutdown();
      process.stderr.write(`nanoshare: --metrics ${where}: ${(e as Error).message}\n`);
      return 2;
    }
  }

  log.info(
    {
      ...opened.describe,
      hostIp: cfg.hostIp ? formatIpv4Cidr(cfg.hostIp) : undefined,
      bridge: cfg.bridge,
      uplink: cfg.uplink,
      capture: cfg.capture,
      metrics: cfg.metrics ? `http://${formatIpv4(cfg.metrics.dst)}:${cfg.metrics.port}/metrics` : undefined,
      control: control ? controlPath : undefined,
      txPolicy: cfg.txPolicy,
      highResTimer: clock.highResolution,
      guests: describeGuests(cfg, machine),
    },
    'ready',
  );

  const statsTimer = cfg.statsInterval > 0 ? setInterval(() => log.info({ stats: summarize(machine.stats()) }, 'stats'), cfg.statsInterval * 1000) : undefined;

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals): void => resolve(s);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    process.once('SIGHUP', on);
  });

  if (statsTimer) clearInterval(statsTimer);
  const final = summarize(machine.stats());
  await shutdown();
  log.info({ signal, stats: final, captured: sink?.counters.blocks, capturedByView: capture?.counters }, 'stopped');
  return 0;
}
