#!/usr/bin/env node
// Bundles the compiled program (dist/, from tsc) into dist/bundle/, which bin/nanoshare loads.
// Why: loading ~90 ES modules one by one (resolve, read, compile, link each) was the largest part
// of the time from exec to the first reply (issue 8); esbuild joins them into a few files with the
// same code. What stays a separate load:
// - every npm package (pino, pino-pretty, prom-client, TypeBox...): `packages: 'external'`, so
//   each is loaded from node_modules exactly as before, and only when used;
// - the native TAP addon (a .node file, loaded by path from native/build/Release);
// - what `nanoshare run` imports only when a feature is on (the other commands, --metrics,
//   --capture, replay, VXLAN, the schema's error messages): `splitting` keeps each dynamic import a
//   chunk of its own, loaded when used, with the code they share in shared chunks, so every module
//   is still evaluated once (its classes and state are one, as in dist/).
// dist/bundle/ is two levels under the repository like dist/cli/, so the paths the code resolves
// from import.meta.url (package.json, the addon) are the same from both.
// Run by `npm run build`, `npm ci` (prepare), `npm test` and `npm run bench`, after tsc.
// test/boot-modules.test.ts builds again in memory with bundleOptions() and fails if the files
// differ (a stale bundle) or if the run path loads anything else.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE_DIR = join(ROOT, 'dist', 'bundle');

/** The one set of esbuild options: this script writes with it, the test compares with it. */
export function bundleOptions() {
  return {
    absWorkingDir: ROOT,
    // nanoshare.js: the bin's entry (main: every command); run.js: `nanoshare run` (the machine),
    // named so the test (and a reader) can find it; main imports it when the command is `run`.
    entryPoints: { nanoshare: 'dist/cli/main.js', run: 'dist/cli/run.js' },
    outdir: 'dist/bundle',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    chunkNames: 'chunk-[hash]',
    // dist/'s own source maps are followed, so these map back to src/*.ts.
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  };
}

/** Where the bundle's metafile is kept: which dist/ modules each output holds (the test reads it). */
export const META_FILE = join(BUNDLE_DIR, 'meta.json');

async function main() {
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  const r = await build(bundleOptions());
  writeFileSync(META_FILE, JSON.stringify(r.metafile, null, 1) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`bundle: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
