// Where `nanoshare run` logs: pino JSON on stderr (one object per line, for machines and log
// shippers), or pretty-printed by pino-pretty for a person at a terminal. `auto` (the default)
// pretty-prints only when stderr is a terminal, so pipes and files always get JSON.
// Both are loaded when first needed, not at boot: pino-pretty only when pretty output is chosen,
// and for JSON pino itself at the first line the level lets through (pino requires Node's streams
// and, for its transports, worker_threads: ~40 ms of a boot). A machine at --log-level warn with
// nothing to warn about never loads it; the lines written are pino's, as before.
import { createRequire } from 'node:module';
import type { DestinationStream, Logger } from 'pino';
import type { MachineConfig } from '../board/config.js';

type Pino = typeof import('pino').pino;
let pinoFn: Pino | undefined;
/** pino, required (synchronously, so no line waits or changes order) at its first use. */
function pino(): Pino {
  pinoFn ??= (createRequire(import.meta.url)('pino') as { pino: Pino }).pino;
  return pinoFn;
}

/** Whether this format, on this kind of stderr, is pretty-printed. */
export function isPretty(format: MachineConfig['logFormat'], tty: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && tty);
}

export async function logDestination(format: MachineConfig['logFormat'], fd: number, tty: boolean): Promise<DestinationStream> {
  if (!isPretty(format, tty)) return pino().destination({ dest: fd, sync: true });
  const { PinoPretty } = await import('pino-pretty');
  return PinoPretty({ destination: fd, sync: true, colorize: tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' });
}

/** The pino methods `run` and the replay log with. */
export interface RunLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** pino's level values (a line is written when its level's value is at least the logger's). */
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** The logger of `nanoshare run`: pino at `level` on `fd`, made at the first line written (JSON) or at once (pretty). */
export async function runLogger(level: string, format: MachineConfig['logFormat'], fd: number, tty: boolean): Promise<RunLog> {
  const options = { level, base: { pid: process.pid } };
  let logger: Logger | undefined;
  if (isPretty(format, tty)) logger = pino()(options, await logDestination(format, fd, tty));
  const threshold = LEVEL_VALUES[level] ?? Infinity; // silent
  const get = (): Logger => (logger ??= pino()(options, pino().destination({ dest: fd, sync: true })));
  return {
    info: (obj, msg) => void (LEVEL_VALUES.info! >= threshold && get().info(obj, msg)),
    warn: (obj, msg) => void (LEVEL_VALUES.warn! >= threshold && get().warn(obj, msg)),
    error: (obj, msg) => void (LEVEL_VALUES.error! >= threshold && get().error(obj, msg)),
  };
}
