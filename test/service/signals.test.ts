/**
 * A SIGTERM during start-up (after the "listening" line, before the stop is wired) is held and runs
 * the stop once it is there, instead of the default kill; a second one while held exits at once.
 * Signals are emitted on `process` (its listeners run as for a real signal) and every listener this
 * test adds is removed again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { holdSignals } from '../../src/service/signals.js';

const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
afterEach(() => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
});

const report = { clean: true, stopped: ['x'], ms: 1 } as never;

describe('holdSignals', () => {
  it('a signal while starting runs the stop as soon as stopWith wires it, and exits 0', async () => {
    const exits: number[] = [];
    let exited!: (code: number) => void;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    const held = holdSignals((c) => (exits.push(c), exited(c)));
    process.emit('SIGTERM');
    expect(exits).toEqual([]);
    let stops = 0;
    held.stopWith(async () => (stops++, report));
    expect(await exit).toBe(0);
    expect(stops).toBe(1);
  });

  it('without a signal while starting, nothing stops until one comes', async () => {
    let exited!: (code: number) => void;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    const held = holdSignals(exited);
    let stops = 0;
    held.stopWith(async () => (stops++, report));
    await Promise.resolve();
    expect(stops).toBe(0);
    process.emit('SIGINT');
    expect(await exit).toBe(0);
    expect(stops).toBe(1);
  });

  it('a second signal while still starting exits 1 at once', () => {
    const exits: number[] = [];
    holdSignals((c) => exits.push(c));
    process.emit('SIGTERM');
    process.emit('SIGTERM');
    expect(exits).toEqual([1]);
  });
});
