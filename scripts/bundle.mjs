#!/usr/bin/env node
// Bundles the compiled program (dist/, from tsc) into one CommonJS file, dist/bundle/nanoshare.cjs,
// which bin/nanoshare loads (bin/load-bundle.cjs). Why (issue 8, exec to the first reply): loading
// ~90 ES modules one by one (resolve, read, compile, link each) was the largest part of a boot,
// and any ES module at all starts Node's ES module loader (~10 ms more than a CommonJS start on
// the 2-core VM); one CommonJS file of the same code is read and compiled once. What is not in
// it, or not run:
// - every npm package (pino, pino-pretty, prom-client, TypeBox...): `packages: 'external'`, so
//   each is loaded from node_modules exactly as before, and only when used;
// - the native TAP addon (a .node file, loaded by path from native/build/Release);
// - what `nanoshare run` imports only when a feature is on (the other commands, --metrics,
//   --capture, replay, VXLAN, the schema's error messages): its code is in the file, but esbuild
//   wraps each dynamically imported module (and what only it imports) in a function that runs at
//   the import, with the require() of its packages inside, so it is neither run nor are its
//   packages loaded before. Every module still runs once (one class, one state, as in dist/).
// dist/bundle/ is two levels under the repository like dist/cli/, so the paths the code resolves
// from import.meta.url (package.json, the addon) are the same from both; CommonJS has no
// import.meta, so import.meta.url is this file's URL, set in the banner. Beside it, V8's code cache
// of it (nanoshare.cjs.cache), which bin/load-bundle.cjs compiles it with.
// Run by `npm run build`, `npm ci` (prepare), `npm run bench` and `npm run soak`, after tsc, and by
// vitest's global setup (test/global-setup.ts) before any test, so `npm test` builds it once.
// test/boot-modules.test.ts builds again in memory with bundleOptions() and fails if the files
// differ (a stale bundle), and checks what the bin loads on its way to the first reply.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE_DIR = join(ROOT, 'dist', 'bundle');

/** The one set of esbuild options: this script writes with it, the test compares with it. */
export function bundleOptions() {
  return {
    absWorkingDir: ROOT,
    entryPoints: { nanoshare: 'dist/cli/main.js' },
    outdir: 'dist/bundle',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // import() of a package becomes require() (all of ours are CommonJS): the bundle then never
    // needs Node's ES module loader, and bin/load-bundle.cjs compiles it with vm, which has none.
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__nanoshare_import_meta_url' },
    banner: { js: 'var __nanoshare_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    // dist/'s own source maps are followed, so these map back to src/*.ts.
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  };
}

/** Where the bundle's metafile is kept: which dist/ modules each output holds (the test reads it). */
export const META_FILE = join(BUNDLE_DIR, 'meta.json');
/** The bin's loader of the bundle, which also writes its code cache (nanoshare.cjs.cache). */
export const LOADER = join(ROOT, 'bin', 'load-bundle.cjs');
export const CODE_CACHE = join(BUNDLE_DIR, 'nanoshare.cjs.cache');

async function main() {
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  const r = await build(bundleOptions());
  writeFileSync(META_FILE, JSON.stringify(r.metafile, null, 1) + '\n');
  // V8's code cache of the bundle (bin/load-bundle.cjs says why), made by this Node in a process of
  // its own: the bundle's load runs there (it only defines things) and what V8 compiled is saved.
  execFileSync(process.execPath, ['-e', 'require(process.argv[1]).loadBundle({ writeCache: true })', LOADER], { stdio: 'inherit' });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`bundle: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
