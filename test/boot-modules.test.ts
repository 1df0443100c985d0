// What `nanoshare run` loads before it boots (issue 8: module loading was most of the time from
// exec to the first reply). Two things keep it small:
// - bin/nanoshare loads the bundle (dist/bundle/, made by scripts/bundle.mjs from dist/ with
//   esbuild: a few files instead of ~90 modules), never dist/'s modules one by one. The bundle
//   must be the one esbuild makes of dist/ as it is now (a stale bundle would run old code), and
//   the bin's path to the first reply must load nothing of ours but it (checked in a lab
//   namespace, through the real bin, with a loader that lists every module).
// - what only some runs use is imported when it is used, and the bundle keeps it out of the run
//   path's files (each dynamic import is a chunk of its own): pino at the first log line the level
//   lets through, pino-pretty for pretty logs, prom-client and node:http for --metrics, the
//   capture writers for --capture, the VXLAN link, the replay, the other commands; and TypeBox
//   with the schema (the config is checked with the schema compiled ahead of time; TypeBox only
//   says why a config was refused). That each still loads and works when its feature is on is
//   shown where the feature is tested (log.test.ts, observe.test.ts, capture.test.ts,
//   replay.test.ts, vxlan.test.ts, top.test.ts run them through the same entry points; the system
//   tests run the bin, so the bundle).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { build, type Metafile } from 'esbuild';
// @ts-expect-error: a plain ES module script without types (its options are esbuild's BuildOptions)
import { bundleOptions, BUNDLE_DIR, META_FILE } from '../scripts/bundle.mjs';
import { probe, skipLab, stopChild, waitFor, withTmpDir, Netns } from './lab.js';
import { FIXED_MACS, spawnMachine, terminate, type Spawned } from './machine-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOADER = pathToFileURL(join(ROOT, 'test', 'fixtures', 'module-log-loader.mjs')).href;
const BUNDLE = BUNDLE_DIR as string;
const META = META_FILE as string;

/** The modules a fresh node loaded (the loader's list), as paths relative to the repository or `node:` names. */
function readModuleLog(log: string): string[] {
  const root = pathToFileURL(ROOT).href;
  return readFileSync(log, 'utf8').split('\n').filter((l) => l.length > 0).map((u) => u.replace(root, ''));
}

/** The modules loaded by importing `entries` (files of dist/bundle/) in a fresh node. */
function modulesLoadedBy(entries: readonly string[]): string[] {
  return withTmpDir('boot-modules', (dir) => {
    const log = join(dir, 'modules');
    const script = entries.map((e) => `await import(${JSON.stringify(pathToFileURL(join(BUNDLE, e)).href)});`).join('\n');
    const r = spawnSync(process.execPath, ['--no-warnings', '--experimental-loader', LOADER, '--input-type=module', '-e', script], {
      cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, MODULE_LOG: log },
    });
    expect(r.status, r.stderr).toBe(0);
    return readModuleLog(log);
  });
}

/** The dist/ modules (esbuild's inputs) that the loaded bundle files hold, from the bundle's metafile. */
function inputsOf(loaded: readonly string[]): string[] {
  const meta = JSON.parse(readFileSync(META, 'utf8')) as Metafile;
  return loaded.flatMap((u) => Object.keys(meta.outputs[u]?.inputs ?? {}));
}

const ours = (u: string): boolean => !u.startsWith('node:');

describe('the bundle bin/nanoshare loads (dist/bundle/, scripts/bundle.mjs)', () => {
  it('is built', () => {
    for (const f of ['nanoshare.js', 'run.js', 'meta.json']) {
      expect(existsSync(join(BUNDLE, f)), `dist/bundle/${f} is missing: run \`npm run build\` first`).toBe(true);
    }
  });

  it('is what esbuild makes of dist/ now, file for file (not stale)', async () => {
    const r = await build({ ...bundleOptions(), write: false });
    const want = new Map(r.outputFiles.map((f) => [relative(BUNDLE, f.path), f.text]));
    const have = readdirSync(BUNDLE).filter((f) => f !== 'meta.json');
    expect(have.sort(), 'dist/bundle/ holds other files than a fresh build: run `npm run build`').toEqual([...want.keys()].sort());
    const stale = have.filter((f) => readFileSync(join(BUNDLE, f), 'utf8') !== want.get(f));
    expect(stale, 'these files of dist/bundle/ differ from a build of dist/ now: run `npm run build`').toEqual([]);
    expect(JSON.parse(readFileSync(META, 'utf8'))).toEqual(r.metafile);
  });

  it('is what the bin imports', () => {
    const bin = readFileSync(join(ROOT, 'bin', 'nanoshare'), 'utf8');
    expect(bin).toMatch(/new URL\('\.\.\/dist\/bundle\/nanoshare\.js', import\.meta\.url\)/);
    expect(bin, 'the bin names no other module of dist/').not.toMatch(/['"][./]*dist\/(?!bundle\/)/);
  });
});

describe('the module graph of `nanoshare run` (the bundle\'s nanoshare.js, then run.js as main imports it)', () => {
  const loaded = (): string[] => modulesLoadedBy(['nanoshare.js', 'run.js']);

  it('is the bundle\'s files only: no module of dist/ outside it, no npm package', () => {
    const m = loaded();
    expect(m).toContain('dist/bundle/nanoshare.js');
    expect(m).toContain('dist/bundle/run.js');
    expect(m.filter(ours).filter((u) => !u.startsWith('dist/bundle/'))).toEqual([]);
  });

  it('holds the machine and the TAP link', () => {
    const held = inputsOf(loaded());
    for (const want of ['dist/cli/run.js', 'dist/board/machine.js', 'dist/link/tap.js', 'dist/nanokernel/nanokernel.js']) {
      expect(held, want).toContain(want);
    }
  });

  it('leaves out what only some runs use', () => {
    const m = loaded();
    const unwantedModules = [
      /node_modules\/pino-pretty\//, // --log-format pretty, or a terminal
      /node_modules\/pino\//, // the first line the log level lets through (cli/log.ts)
      /node_modules\/@sinclair\/typebox\//, // a refused config (board/schema-errors.ts)
      /node_modules\/prom-client\//, // --metrics
      /^node:http$/,
    ];
    expect(m.filter((u) => unwantedModules.some((re) => re.test(u)))).toEqual([]);
    const unwantedSources = [
      /dist\/board\/schema(-errors)?\.js$/,
      /dist\/host\/metrics\.js$/,
      /dist\/capture\/(open|file-sink|rotating-sink)\.js$/, // --capture (the writers; capture.js, pcap.js and pcapng.js are small codecs the config names formats from)
      /dist\/cli\/(replay|capture|top|reboot)\.js$/, // pcap: links, --capture, other commands
      /dist\/link\/(vxlan|replay)\.js$/, // vxlan:// and pcap: links
    ];
    expect(inputsOf(m).filter((u) => unwantedSources.some((re) => re.test(u)))).toEqual([]);
  });
});

const skip = skipLab();

describe.skipIf(skip)('system: bin/nanoshare, exec to the first reply, in a lab namespace', () => {
  it('loads the bin and the bundle and nothing else of ours or of npm (the bench\'s flags: --log-level warn, no boot probe)', async () => {
    await withTmpDir('boot-bin', async (dir) => {
      const log = join(dir, 'modules');
      const ns = Netns.create('bootbin');
      let m: Spawned | undefined;
      try {
        m = spawnMachine(ns, ['--log-level', 'warn', '--address-probe', 'off', '--control', join(dir, 'ctl.sock'), ...FIXED_MACS],
          ['env', `NODE_OPTIONS=--no-warnings --experimental-loader=${LOADER}`, `MODULE_LOG=${log}`]);
        const answered = await waitFor('the rtos\'s first echo reply', () => {
          if (m!.child.exitCode !== null) throw new Error(`nanoshare exited: ${m!.stderr()}`);
          return probe(ns, '10.77.0.10', { count: 1, timeoutMs: 200 }).received === 1;
        }, 20_000, 10);
        expect(answered).toBe(true);
        const loaded = readModuleLog(log);
        expect(loaded).toContain('bin/nanoshare');
        expect(loaded).toContain('dist/bundle/run.js');
        expect(loaded.filter(ours).filter((u) => u !== 'bin/nanoshare' && !u.startsWith('dist/bundle/'))).toEqual([]);
        expect(await terminate(m), m.stderr()).toEqual({ code: 0, signal: null });
      } finally {
        if (m) await stopChild(m.child);
        await ns.delete();
      }
    });
  });
});
