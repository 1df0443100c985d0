// What `nanoshare run` loads before it boots (issue 8: module loading was most of the time from
// exec to the first reply). Two things keep it small:
// - bin/nanoshare loads one file, dist/bundle/nanoshare.cjs (made by scripts/bundle.mjs from
//   dist/ with esbuild), with V8's code cache made beside it (bin/load-bundle.cjs), never dist/'s
//   modules one by one. The bundle must be the one esbuild makes
//   of dist/ as it is now (a stale bundle would run old code), and the bin's path to the first
//   reply must load nothing of ours but it and no npm package (checked in a lab namespace, through
//   the real bin, with a preload and a loader that list every module required or imported).
// - what only some runs use is imported when it is used (in the bundle, its code waits in a
//   function that runs at the import): pino at the first log line the level lets through,
//   pino-pretty for pretty logs, prom-client and node:http for --metrics, node:dgram for the
//   VXLAN link, the capture writers, the replay, the other commands; and TypeBox with the schema
//   (the config is checked with the schema compiled ahead of time; TypeBox only says why a config
//   was refused). That each still loads and works when its feature is on is shown where the
//   feature is tested (log.test.ts, observe.test.ts, capture.test.ts, replay.test.ts,
//   vxlan.test.ts, top.test.ts; the system tests run the bin, so the bundle).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { build, type Metafile } from 'esbuild';
// @ts-expect-error: a plain ES module script without types (its options are esbuild's BuildOptions)
import { bundleOptions, BUNDLE_DIR, CODE_CACHE, META_FILE } from '../scripts/bundle.mjs';
import { probe, skipLab, stopChild, waitFor, withTmpDir, Netns } from './lab.js';
import { FIXED_MACS, spawnMachine, terminate, type Spawned } from './machine-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PRELOAD = join(ROOT, 'test', 'fixtures', 'module-log.cjs');
const LOADER = pathToFileURL(join(ROOT, 'test', 'fixtures', 'module-log-loader.mjs')).href;
const BUNDLE = BUNDLE_DIR as string;
const META = META_FILE as string;
/** Node's options that make a node list every module it requires or imports in the file MODULE_LOG names. */
const LOGGING = ['--no-warnings', '-r', PRELOAD, `--experimental-loader=${LOADER}`];

/** The modules a node listed, once each, as paths relative to the repository (or `node:` names), and the code cache lines. */
function readModuleLog(log: string): string[] {
  const root = pathToFileURL(ROOT).href;
  return [...new Set(readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0).map((u) => u.replace(root, '')))];
}
const isModule = (u: string): boolean => !u.startsWith('code-cache:');
/** What the bin loads of ours: itself, its loader and the bundle, compiled with V8's code cache (test/fixtures/module-log.cjs). */
const BIN_LOADS = ['bin/load-bundle.cjs', 'bin/nanoshare', 'dist/bundle/nanoshare.cjs'];
const CACHE_USED = 'code-cache:used:dist/bundle/nanoshare.cjs';

const ours = (u: string): boolean => isModule(u) && !u.startsWith('node:');
/** What only some runs use, as the module lists name it. */
const UNWANTED = [
  /node_modules\/pino-pretty\//, // --log-format pretty, or a terminal
  /node_modules\/pino\//, // the first line the log level lets through (cli/log.ts)
  /node_modules\/@sinclair\/typebox\//, // a refused config (board/schema-errors.ts)
  /node_modules\/prom-client\//, // --metrics
  /^node:http$/, // --metrics
  /^node:dgram$/, // vxlan:// links
  /^node:crypto$/, // nothing: the control socket's private name reads /dev/urandom (~5 ms of a boot)
  /^node:child_process$/, // `ip`, run only where netlink in the addon cannot do it (host/netlink.ts; ~5 ms to load)
];

describe('the bundle bin/nanoshare loads (dist/bundle/nanoshare.cjs, scripts/bundle.mjs)', () => {
  it('is built', () => {
    for (const f of ['nanoshare.cjs', 'nanoshare.cjs.cache', 'meta.json']) {
      expect(existsSync(join(BUNDLE, f)), `dist/bundle/${f} is missing: run \`npm run build\` first`).toBe(true);
    }
  });

  it('is what esbuild makes of dist/ now, file for file (not stale)', async () => {
    const r = await build({ ...bundleOptions(), write: false });
    const want = new Map(r.outputFiles.map((f) => [relative(BUNDLE, f.path), f.text]));
    // The code cache is V8's, checked by V8 against the source at every load (below: the bin uses it).
    const have = readdirSync(BUNDLE).filter((f) => f !== 'meta.json' && join(BUNDLE, f) !== CODE_CACHE);
    expect(have.sort(), 'dist/bundle/ holds other files than a fresh build: run `npm run build`').toEqual([...want.keys()].sort());
    const stale = have.filter((f) => readFileSync(join(BUNDLE, f), 'utf8') !== want.get(f));
    expect(stale, 'these files of dist/bundle/ differ from a build of dist/ now: run `npm run build`').toEqual([]);
    expect(JSON.parse(readFileSync(META, 'utf8'))).toEqual(r.metafile);
  });

  it('holds no import() (bin/load-bundle.cjs compiles it with vm, which has no ES module loader)', () => {
    expect(readFileSync(join(BUNDLE, 'nanoshare.cjs'), 'utf8')).not.toMatch(/\bimport\(/);
  });

  it('holds the whole program: the commands, the machine and the TAP link', () => {
    const meta = JSON.parse(readFileSync(META, 'utf8')) as Metafile;
    const held = Object.keys(meta.outputs['dist/bundle/nanoshare.cjs']?.inputs ?? {});
    for (const want of ['dist/cli/main.js', 'dist/cli/run.js', 'dist/board/machine.js', 'dist/link/tap.js', 'dist/nanokernel/nanokernel.js', 'dist/cli/stats.js']) {
      expect(held, want).toContain(want);
    }
  });

  it('is what the bin loads, with its code cache, and all it loads of ours (no npm package, nothing only some runs use)', () => {
    withTmpDir('boot-modules', (dir) => {
      const log = join(dir, 'modules');
      const r = spawnSync(process.execPath, ['--single-threaded-gc', ...LOGGING, join(ROOT, 'bin', 'nanoshare'), '--version'], {
        cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, MODULE_LOG: log },
      });
      expect(r.status, r.stderr).toBe(0);
      const loaded = readModuleLog(log);
      expect(loaded.filter(ours).sort()).toEqual(BIN_LOADS);
      expect(loaded, 'V8 took the code cache (stale or missing: run `npm run build`)').toContain(CACHE_USED);
      expect(loaded.filter((u) => UNWANTED.some((re) => re.test(u)))).toEqual([]);
    });
  });
});

const skip = skipLab();

describe.skipIf(skip)('system: bin/nanoshare, exec to the first reply, in a lab namespace', () => {
  it('loads the bin and the bundle and nothing else of ours, no npm package and nothing only some runs use (the bench\'s flags: --log-level warn, no boot probe)', async () => {
    await withTmpDir('boot-bin', async (dir) => {
      const log = join(dir, 'modules');
      const ns = Netns.create('bootbin');
      let m: Spawned | undefined;
      try {
        m = spawnMachine(ns, ['--log-level', 'warn', '--address-probe', 'off', '--control', join(dir, 'ctl.sock'), ...FIXED_MACS],
          ['env', `NODE_OPTIONS=${LOGGING.join(' ')}`, `MODULE_LOG=${log}`]);
        const answered = await waitFor('the rtos\'s first echo reply', () => {
          if (m!.child.exitCode !== null) throw new Error(`nanoshare exited: ${m!.stderr()}`);
          return probe(ns, '10.77.0.10', { count: 1, timeoutMs: 200 }).received === 1;
        }, 20_000, 10);
        expect(answered).toBe(true);
        const loaded = readModuleLog(log);
        // ...and the TAP addon, which the bundle requires by path.
        expect(loaded.filter(ours).sort()).toEqual([...BIN_LOADS, 'native/build/Release/nanoshare_tap.node']);
        expect(loaded).toContain(CACHE_USED);
        expect(loaded.filter((u) => UNWANTED.some((re) => re.test(u)))).toEqual([]);
        expect(await terminate(m), m.stderr()).toEqual({ code: 0, signal: null });
      } finally {
        if (m) await stopChild(m.child);
        await ns.delete();
      }
    });
  });
});
