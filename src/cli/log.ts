// Where `nanoshare run` logs: pino JSON on stderr (one object per line, for machines and log
// shippers), or pretty-printed by pino-pretty for a person at a terminal. `auto` (the default)
// pretty-prints only when stderr is a terminal, so pipes and files always get JSON.
// pino-pretty (about 30 modules) is imported only when pretty output is chosen: a machine
// started by a service manager or a script never loads it, and boots that much sooner.
import { pino, type DestinationStream } from 'pino';
import type { MachineConfig } from '../board/config.js';

/** Whether this format, on this kind of stderr, is pretty-printed. */
export function isPretty(format: MachineConfig['logFormat'], tty: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && tty);
}

export async function logDestination(format: MachineConfig['logFormat'], fd: number, tty: boolean): Promise<DestinationStream> {
  if (!isPretty(format, tty)) return pino.destination({ dest: fd, sync: true });
  const { PinoPretty } = await import('pino-pretty');
  return PinoPretty({ destination: fd, sync: true, colorize: tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' });
}
