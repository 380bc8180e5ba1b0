import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Installs (or names) the system servers the tests start before any test runs.
    globalSetup: ['test/setup/global.ts'],
    // Separate processes: servers, gRPC channels and the xDS client's global state never leak across files.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    // Servers log JSON at info by default; tests keep quiet unless BANYAN_LOG_LEVEL asks otherwise.
    env: { BANYAN_LOG_LEVEL: process.env.BANYAN_LOG_LEVEL ?? 'silent' },
  },
});
