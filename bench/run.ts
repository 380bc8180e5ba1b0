/**
 * Benchmark entry point: `node dist/bench/run.js <name|all>`. Each benchmark module exports
 * `run()`, prints a table with a same-run baseline, and returns when done.
 */
const BENCHES: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  // Each entry is added by the work that owns the benchmark, e.g.
  // xds: () => import('./xds.js'),
  authz: () => import('./authz.js'),
  xds: () => import('./xds.js'),
  ratelimit: () => import('./ratelimit.js'),
  fleet: () => import('./fleet.js'),
  ca: () => import('./ca.js'),
  reload: () => import('./reload.js'),
  'xds-ack': () => import('./xds-ack.js'),
  'ratelimit-transport': () => import('./ratelimit-transport.js'),
  'ratelimit-redis': () => import('./ratelimit-redis-clients.js'),
  'ratelimit-rss': () => import('./ratelimit-rss.js'),
};

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'all';
  const names = which === 'all' ? Object.keys(BENCHES) : [which];
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) throw new Error(`unknown benchmark "${name}"; have: ${Object.keys(BENCHES).join(', ') || 'none'}`);
    console.log(`\n## bench:${name}\n`);
    await (await load()).run();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
