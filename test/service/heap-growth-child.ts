/**
 * Child of heap-growth.test.ts (V8 flags are process-wide, so not in the test's own process): sets
 * the growth given as argv[2], then allocates the same steady live set and stream of short-lived
 * objects every time, and prints how many collections of each kind V8 ran (v8.GCProfiler).
 */
import v8 from 'node:v8';
import { setHeapGrowth } from '../../src/service/heap-growth.js';

setHeapGrowth(Number(process.argv[2]));
const profiler = new v8.GCProfiler();
profiler.start();
const live = Array.from({ length: 8192 }, () => new Array<number>(128).fill(0));
// Each object outlives a few scavenges (so it reaches the old generation), then dies.
const ring = new Array<unknown>(200_000);
for (let i = 0; i < 4_000_000; i++) ring[i % ring.length] = { i, s: `x${i}`, a: [i, i + 1] };
const kinds: Record<string, number> = {};
for (const s of profiler.stop().statistics) kinds[s.gcType] = (kinds[s.gcType] ?? 0) + 1;
process.stdout.write(JSON.stringify({ kinds, live: live.length, ring: ring.length }));
