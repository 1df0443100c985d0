// Before any test file runs: the bundle that bin/nanoshare loads is built again from dist/. This is
// where `npm test` (tsc, then vitest) builds it, and a run of `npx tsc` then `npx vitest run ...`
// (the usual loop while working) gets it too: otherwise the bin would start on the bundle of an
// older dist/, and every test that spawns it would pass or fail for the wrong code
// (test/boot-modules.test.ts only says the bundle is stale when it is in the run). Nothing compiled
// yet (a fresh clone before `npm ci`): nothing to bundle.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export default function setup(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { stdio: 'inherit' });
}
