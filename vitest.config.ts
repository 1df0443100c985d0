import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // The bundle the bin loads, built from dist/ before any test spawns the bin.
    globalSetup: ['test/global-setup.ts'],
    // System tests create network namespaces and run the real binary; they take seconds, not ms.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Namespaced system tests are independent, but two cores is all we have.
    fileParallelism: true,
  },
});
