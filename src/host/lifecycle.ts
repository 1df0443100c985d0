// The process's stop paths, in one place, so the host network is given back on every one of them:
// a signal at any moment (before `ready`, during setup, during the teardown itself), a second
// Ctrl-C, an uncaught exception or an unhandled rejection. The handlers are installed before the
// first host change; the first event asks for a stop, later ones are logged once and ignored, so
// the teardown that is already running finishes instead of the default action killing it half way.
import type { EventEmitter } from 'node:events';

export type StopReason = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'fatal'; error: Error };

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** What the lifecycle logs; pino's Logger fits. */
export interface LifecycleLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The part of `process` the lifecycle listens to (an EventEmitter in tests). */
type ProcessEvents = Pick<EventEmitter, 'on' | 'off'>;

export class Lifecycle {
  private reason: StopReason | undefined;
  private resolveStop!: (r: StopReason) => void;
  private readonly listeners: Array<[string, (arg: never) => void]> = [];
  private repeatLogged = false;
  private firstFatal: Error | undefined;
  /** Resolves with the first stop request. */
  readonly stopRequested: Promise<StopReason>;

  constructor(private readonly log: LifecycleLog, private readonly proc: ProcessEvents = process) {
    this.stopRequested = new Promise((resolve) => (this.resolveStop = resolve));
  }

  /** True once a stop has been asked for: setup checks it between steps. */
  get stopping(): boolean {
    return this.reason !== undefined;
  }

  /** The first uncaught error, even one during the stop: the exit status is then 1, not 0. */
  get fatalError(): Error | undefined {
    return this.firstFatal;
  }

  /** Listen for the stop signals, uncaught exceptions and unhandled rejections. */
  install(): this {
    for (const s of STOP_SIGNALS) this.listen(s, () => this.request({ kind: 'signal', signal: s }));
    this.listen('uncaughtException', (err: unknown) => this.fatal(err, 'uncaught exception'));
    this.listen('unhandledRejection', (err: unknown) => this.fatal(err, 'unhandled promise rejection'));
    return this;
  }

  /** Stop listening (after the teardown; a later signal then has its default action again). */
  uninstall(): void {
    for (const [ev, fn] of this.listeners) this.proc.off(ev, fn as (...args: unknown[]) => void);
    this.listeners.length = 0;
  }

  /** Ask for a stop; the first request wins, later ones are logged once. */
  request(r: StopReason): void {
    if (this.reason) {
      if (!this.repeatLogged) {
        this.repeatLogged = true;
        this.log.warn({ again: r.kind === 'signal' ? r.signal : r.error.message }, 'already stopping: the host network teardown finishes first');
      }
      return;
    }
    this.reason = r;
    this.resolveStop(r);
  }

  private fatal(err: unknown, what: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.firstFatal ??= error;
    this.log.error({ err: error.message, stack: error.stack }, `${what}: stopping`);
    this.request({ kind: 'fatal', error });
  }

  private listen(ev: string, fn: (arg: never) => void): void {
    this.proc.on(ev, fn as (...args: unknown[]) => void);
    this.listeners.push([ev, fn]);
  }
}
