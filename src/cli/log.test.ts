import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { logDestination, runLogger } from './log.js';
import { withTmpDir } from '../../test/lab.js';

/** What one `ready` line looks like through a destination made for this format and terminal. */
function logged(format: 'auto' | 'json' | 'pretty', tty: boolean): Promise<string> {
  return withTmpDir('obs-log', async (dir) => {
    const path = join(dir, 'log');
    const fd = openSync(path, 'w');
    try {
      pino({ base: { pid: 42 } }, await logDestination(format, fd, tty)).info({ tap: 'nstap0' }, 'ready');
    } finally {
      closeSync(fd);
    }
    return readFileSync(path, 'utf8');
  });
}

describe('log format', () => {
  it('is JSON for json, and for auto when stderr is not a terminal', async () => {
    for (const [format, tty] of [['json', true], ['json', false], ['auto', false]] as const) {
      const line = JSON.parse((await logged(format, tty)).trim()) as { msg: string; tap: string; level: number };
      expect([line.msg, line.tap, line.level]).toEqual(['ready', 'nstap0', 30]);
    }
  });

  it('is pretty-printed by pino-pretty on a terminal (auto) or when asked (pretty)', async () => {
    for (const [format, tty] of [['auto', true], ['pretty', false]] as const) {
      const text = (await logged(format, tty)).replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
      expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(42\): ready\n\s+tap: "nstap0"/);
      expect(text).not.toContain('{"level"');
    }
    expect(await logged('auto', true)).toContain('\x1b['); // colours for a terminal only
    expect(await logged('pretty', false)).not.toContain('\x1b[');
  });

  it('run\'s logger writes pino\'s lines for the levels let through, and nothing for the others', async () => {
    const written = (level: string, format: 'json' | 'pretty'): Promise<string> =>
      withTmpDir('obs-runlog', async (dir) => {
        const path = join(dir, 'log');
        const fd = openSync(path, 'w');
        try {
          const log = await runLogger(level, format, fd, false);
          log.info({ a: 1 }, 'info line');
          log.warn({ b: 2 }, 'warn line');
          log.error({ c: 3 }, 'error line');
        } finally {
          closeSync(fd);
        }
        return readFileSync(path, 'utf8');
      });
    const lines = (await written('warn', 'json')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.msg, l.pid, typeof l.time])).toEqual([
      [40, 'warn line', process.pid, 'number'],
      [50, 'error line', process.pid, 'number'],
    ]);
    expect([lines[0]!.b, lines[1]!.c]).toEqual([2, 3]);
    expect((await written('info', 'json')).trim().split('\n')).toHaveLength(3);
    expect(await written('silent', 'json')).toBe('');
    expect(await written('error', 'json')).not.toContain('warn line');
    const pretty = (await written('warn', 'pretty')).replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
    expect(pretty).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN \(\d+\): warn line\n/);
    expect(pretty).not.toContain('info line');
  });
});
