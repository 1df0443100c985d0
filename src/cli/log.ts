// Where `nanoshare run` logs: pino JSON on stderr (one object per line, for machines and log
// shippers), or pretty-printed by pino-pretty for a person at a terminal. `auto` (the default)
// pretty-prints only when stderr is a terminal, so pipes and files always get JSON.
import { pino, type DestinationStream } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { MachineConfig } from '../board/config.js';

export function logDestination(format: MachineConfig['logFormat'], fd: number, tty: boolean): DestinationStream {
  if (format === 'json' || (format === 'auto' && !tty)) return pino.destination({ dest: fd, sync: true });
  return PinoPretty({ destination: fd, sync: true, colorize: tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' });
}
