/**
 * The echo backend's failure and latency options (test/support/echo.ts), which the load-reporting and
 * rollout tests use for a failing or slow canary: the failures are an exact, even share of the calls
 * with the status asked for, and every answer waits the latency asked for.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoClient, startEchoBackend, who, type ConfigurableEchoBackend } from '../support/echo.js';

describe('echo backend options', () => {
  const backends: ConfigurableEchoBackend[] = [];
  const clients: grpc.Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(backends.splice(0).map((b) => b.stop()));
  });

  async function start(opts: Parameters<typeof startEchoBackend>[1]): Promise<{ backend: ConfigurableEchoBackend; client: grpc.Client }> {
    const backend = await startEchoBackend('b', opts);
    backends.push(backend);
    const client = new EchoClient(`127.0.0.1:${backend.port}`, grpc.credentials.createInsecure());
    clients.push(client);
    return { backend, client };
  }

  it('fails an exact, evenly spread share of calls with the given status', async () => {
    const { backend, client } = await start({ fail: { fraction: 0.3, status: grpc.status.RESOURCE_EXHAUSTED } });
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await who(client).then((b) => b, (e: grpc.ServiceError) => `E${e.code}`));
    // calls 4, 7, 10, 14, 17, 20 fail: ⌊n·0.3⌋ grows there
    expect(outcomes.map((o, i) => (o === 'b' ? '' : `${i + 1}:${o}`)).filter(Boolean)).toEqual(['4:E8', '7:E8', '10:E8', '14:E8', '17:E8', '20:E8']);
    expect({ calls: backend.calls, failed: backend.failed }).toEqual({ calls: 20, failed: 6 });
  });

  it('answers after the latency asked for, and without options like the plain backend', async () => {
    const slow = await start({ latencyMs: 150 });
    const t0 = performance.now();
    expect(await who(slow.client)).toBe('b');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    const plain = await start({});
    expect(await Promise.all([who(plain.client), who(plain.client)])).toEqual(['b', 'b']);
    expect(plain.backend.failed).toBe(0);
    await expect(startEchoBackend('x', { fail: { fraction: 1.5 } })).rejects.toThrow(/fraction must be 0..1/);
  });
});
