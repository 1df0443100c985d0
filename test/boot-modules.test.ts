// What `nanoshare run` loads before it boots. Module loading is most of the time from exec to the
// first reply (issue 8), so what only some runs use is imported when it is used: pino at the
// first log line the level lets through, pino-pretty for pretty logs, prom-client and node:http for --metrics, the capture writers for --capture, the
// VXLAN link, the replay, the other commands; and TypeBox with the schema (the config is checked
// with the schema compiled ahead of time; TypeBox only says why a config was refused). This runs
// the module graph of `nanoshare run` as the bin loads it (dist/, built by `npm test`) with a
// loader that lists every module, and checks that none of those is in it. That each still loads and works when its feature is on is shown
// where the feature is tested (log.test.ts, observe.test.ts, capture.test.ts, replay.test.ts,
// vxlan.test.ts, top.test.ts run them through the same entry points).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withTmpDir } from './lab.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOADER = pathToFileURL(join(ROOT, 'test', 'fixtures', 'module-log-loader.mjs')).href;

/** The modules loaded by importing `entries` (paths under dist/) in a fresh node, as URLs relative to the repository. */
function modulesLoadedBy(entries: readonly string[]): string[] {
  return withTmpDir('boot-modules', (dir) => {
    const log = join(dir, 'modules');
    const script = entries.map((e) => `await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist', e)).href)});`).join('\n');
    const r = spawnSync(process.execPath, ['--no-warnings', '--experimental-loader', LOADER, '--input-type=module', '-e', script], {
      cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, MODULE_LOG: log },
    });
    expect(r.status, r.stderr).toBe(0);
    const root = pathToFileURL(ROOT).href;
    return readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0).map((u) => u.replace(root, ''));
  });
}

describe('the module graph of `nanoshare run`', () => {
  it('is built (dist/)', () => {
    expect(existsSync(join(ROOT, 'dist', 'cli', 'run.js')), 'dist/ is missing: run `npx tsc -p .` first').toBe(true);
  });

  const loaded = (): string[] => modulesLoadedBy(['cli/main.js', 'cli/run.js']);

  it('holds the machine and the TAP link (the loader sees them)', () => {
    const m = loaded();
    for (const want of ['dist/cli/run.js', 'dist/board/machine.js', 'dist/link/tap.js', 'dist/nanokernel/nanokernel.js']) {
      expect(m, want).toContain(want);
    }
  });

  it('leaves out what only some runs use', () => {
    const m = loaded();
    const unwanted = [
      /node_modules\/pino-pretty\//, // --log-format pretty, or a terminal
      /node_modules\/pino\//, // the first line the log level lets through (cli/log.ts)
      /node_modules\/@sinclair\/typebox\//, // a refused config (board/schema-errors.ts)
      /dist\/board\/schema(-errors)?\.js$/,
      /node_modules\/prom-client\//, // --metrics
      /^node:http$/,
      /dist\/host\/metrics\.js$/,
      /dist\/capture\/(open|file-sink|rotating-sink)\.js$/, // --capture (the writers; capture.js, pcap.js and pcapng.js are small codecs the config names formats from)
      /dist\/cli\/(replay|capture|top|reboot)\.js$/, // pcap: links, --capture, other commands
      /dist\/link\/(vxlan|replay)\.js$/, // vxlan:// and pcap: links
    ];
    expect(m.filter((u) => unwanted.some((re) => re.test(u)))).toEqual([]);
  });
});
