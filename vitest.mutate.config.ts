// The tests Stryker runs against mutants (`npm run mutate`, not in CI): the unit tests beside the
// code. The whole-machine, fuzz and system tests are left out: with them each mutant costs seconds
// to minutes on a shared two-core machine (STRYKER_TESTS adds globs, e.g. test/machine.test.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', ...(process.env.STRYKER_TESTS ? process.env.STRYKER_TESTS.split(',') : [])],
    setupFiles: ['test/setup.ts'],
    // Unit tests only: no namespaces, no real TAP, no spawned binaries.
    exclude: ['src/link/tap.test.ts', 'src/host/**', 'src/cli/**'],
    testTimeout: 60_000,
  },
});
