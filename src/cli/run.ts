// `nanoshare run`: open the TAP, set up the host side, boot the machine, log `ready`, serve the
// control socket, and on SIGINT/SIGTERM stop in order: capture flushed, TAP closed (a TAP we
// created disappears with it), host setup undone.
import { pino, type Logger } from 'pino';
import type { Server } from 'node:net';
import { formatIpv4Cidr } from '../wire/address.js';
import type { Link } from '../link/link.js';
import { TapLink, TapError } from '../link/tap.js';
import { CaptureLink } from '../capture/capture-link.js';
import { PcapFileSink } from '../capture/file-sink.js';
import type { MachineConfig } from '../board/config.js';
import { setupHostNet, linkExists, HostNetError } from '../host/hostnet.js';
import { SystemClock } from '../host/clock.js';
import { buildMachine, describeGuests, type Machine } from '../board/machine.js';
import { serveControl, closeControl, defaultControlPath } from '../host/control.js';
import { summarize } from './stats.js';

export async function runMachine(cfg: MachineConfig): Promise<number> {
  const log: Logger = pino({ level: cfg.logLevel, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));

  const tapExisted = await linkExists(cfg.tap);
  let tap: TapLink;
  try {
    tap = TapLink.open(cfg.tap, { mtu: cfg.mtu });
  } catch (e) {
    if (e instanceof TapError) {
      // The addon's messages are already one line naming the missing flag or privilege.
      process.stderr.write(`nanoshare: ${e.message}\n`);
      return e.code === 'ENOADDON' ? 1 : 2;
    }
    throw e;
  }

  let teardownNet: () => Promise<void>;
  try {
    teardownNet = await setupHostNet(cfg, tap.name, tapExisted);
  } catch (e) {
    tap.close();
    if (e instanceof HostNetError) {
      process.stderr.write(`nanoshare: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }

  let sink: PcapFileSink | undefined;
  let link: Link = tap;
  if (cfg.capture) {
    try {
      sink = new PcapFileSink(cfg.capture, cfg.capturePrecision);
    } catch (e) {
      tap.close();
      await teardownNet();
      process.stderr.write(`nanoshare: --capture ${cfg.capture}: ${(e as Error).message}\n`);
      return 2;
    }
    link = new CaptureLink(tap, sink);
  }

  const clock = new SystemClock();
  const machine: Machine = buildMachine(cfg, link, clock, {
    onFault: (f) => log.error({ guest: f.guest, action: f.action, during: f.during, faults: f.faults, suppressed: f.suppressed, err: f.message, stack: f.stack }, 'guest fault'),
  });
  machine.nic.onLinkError((err) => log.warn({ err: err.message }, 'link error'));
  machine.start();

  const controlPath = cfg.control ?? defaultControlPath(tap.name);
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

  log.info(
    {
      tap: tap.name,
      hostIp: cfg.hostIp ? formatIpv4Cidr(cfg.hostIp) : undefined,
      bridge: cfg.bridge,
      uplink: cfg.uplink,
      capture: cfg.capture,
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
  sink?.close();
  machine.stop();
  clock.close();
  if (control) closeControl(control, controlPath);
  await teardownNet();
  log.info({ signal, stats: final, captured: sink?.counters.records }, 'stopped');
  return 0;
}
