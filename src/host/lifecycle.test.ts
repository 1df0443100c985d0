// The stop paths: the first signal or fatal error asks for the stop, a second Ctrl-C during the
// teardown is logged once and never cuts it short, and uninstall gives the signals back.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Lifecycle, STOP_SIGNALS } from './lifecycle.js';

function fakeLog(): { lines: string[]; warn(o: object, m: string): void; error(o: object, m: string): void } {
  const lines: string[] = [];
  return { lines, warn: (_o, m) => lines.push(`warn ${m}`), error: (_o, m) => lines.push(`error ${m}`) };
}

describe('Lifecycle', () => {
  it('the first signal asks for the stop; a second SIGINT is logged once and does not replace it', async () => {
    const proc = new EventEmitter();
    const log = fakeLog();
    const life = new Lifecycle(log, proc).install();
    expect(life.stopping).toBe(false);
    proc.emit('SIGINT');
    expect(life.stopping).toBe(true);
    proc.emit('SIGINT');
    proc.emit('SIGTERM');
    expect(await life.stopRequested).toEqual({ kind: 'signal', signal: 'SIGINT' });
    expect(log.lines.filter((l) => l.includes('already stopping'))).toHaveLength(1);
  });

  it.each(STOP_SIGNALS)('%s is handled (its default action would kill the process before the teardown)', async (sig) => {
    const proc = new EventEmitter();
    const life = new Lifecycle(fakeLog(), proc).install();
    expect(proc.listenerCount(sig)).toBe(1);
    proc.emit(sig);
    expect(await life.stopRequested).toEqual({ kind: 'signal', signal: sig });
  });

  it.each(['uncaughtException', 'unhandledRejection'])('%s asks for the stop as a fatal error and logs it', async (ev) => {
    const proc = new EventEmitter();
    const log = fakeLog();
    const life = new Lifecycle(log, proc).install();
    proc.emit(ev, new Error('boom'));
    const r = await life.stopRequested;
    expect(r.kind).toBe('fatal');
    expect(r.kind === 'fatal' && r.error.message).toBe('boom');
    expect(log.lines.some((l) => l.startsWith('error '))).toBe(true);
  });

  it('an uncaught error during the stop is remembered (exit 1) but does not replace the stop reason', async () => {
    const proc = new EventEmitter();
    const life = new Lifecycle(fakeLog(), proc).install();
    expect(life.fatalError).toBeUndefined();
    proc.emit('SIGTERM');
    proc.emit('uncaughtException', new Error('late'));
    expect(await life.stopRequested).toEqual({ kind: 'signal', signal: 'SIGTERM' });
    expect(life.fatalError?.message).toBe('late');
  });

  it('a rejection with a non-Error value still stops', async () => {
    const proc = new EventEmitter();
    const life = new Lifecycle(fakeLog(), proc).install();
    proc.emit('unhandledRejection', 'just a string');
    const r = await life.stopRequested;
    expect(r.kind === 'fatal' && r.error.message).toBe('just a string');
  });

  it('uninstall removes every listener it added', () => {
    const proc = new EventEmitter();
    const life = new Lifecycle(fakeLog(), proc).install();
    life.uninstall();
    for (const ev of [...STOP_SIGNALS, 'uncaughtException', 'unhandledRejection']) expect(proc.listenerCount(ev)).toBe(0);
  });
});
