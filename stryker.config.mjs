// Mutation testing (`npm run mutate`; not in CI, it takes a while): Stryker changes one thing in
// the code at a time and runs the tests that cover it; a mutant no test notices is a test that is
// missing. Scope with STRYKER_MUTATE (default: the nanokernel). One process at a time: the
// machine is shared.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: (process.env.STRYKER_MUTATE ?? 'src/nanokernel/**/*.ts').split(',').concat(['!**/*.test.ts']),
  coverageAnalysis: 'perTest',
  concurrency: 1,
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  tempDirName: '.stryker-tmp',
  thresholds: { high: 90, low: 80, break: null },
};
