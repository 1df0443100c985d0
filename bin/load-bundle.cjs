// Loads dist/bundle/nanoshare.cjs (the whole program, scripts/bundle.mjs) as require() would run
// it, but compiled with V8's code cache made by the build beside it (nanoshare.cjs.cache): V8 then
// reads the compiled code of what runs at load instead of parsing ~480 KB of JavaScript, most of
// the time left in loading the program (issue 8). V8 checks the cache against the source, its own
// version and the flags that change code (--expose-gc, --trace-gc... do; --single-threaded-gc
// does not); a cache that does not fit is ignored and V8 compiles from source: the same program,
// only slower. The bundle holds no import() (scripts/bundle.mjs turns them into require()), which
// vm would need a loader for.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { createRequire } = require('node:module');
const vm = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'bundle', 'nanoshare.cjs');
const CACHE = `${BUNDLE}.cache`;

/**
 * The bundle's exports. `writeCache` (the build): compile without a cache, run the bundle's load,
 * then write what V8 compiled so far as the cache.
 */
function loadBundle(opts = {}) {
  const source = readFileSync(BUNDLE, 'utf8');
  let cachedData;
  if (!opts.writeCache) {
    try {
      cachedData = readFileSync(CACHE);
    } catch {
      // No cache (a build without one): compiled from source.
    }
  }
  // The same wrapper as Node's for a CommonJS module: the bundle sees exports, require, module, __filename, __dirname.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
  if (opts.writeCache) writeFileSync(CACHE, script.createCachedData());
  return module.exports;
}

module.exports = { loadBundle, BUNDLE, CACHE };
