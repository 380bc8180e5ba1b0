import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/errors.js';
import type { Store } from '../../src/store/types.js';
import { routesYaml, startHarness, type Harness } from './harness.js';

/** The real store behind a switch: while `down`, every call fails as an unreachable database would. */
function switchable(): { wrap: (s: Store) => Store; setDown(down: boolean): void } {
  let down = false;
  return {
    setDown: (d) => (down = d),
    wrap: (store) =>
      new Proxy(store, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function' || prop === 'watch' || prop === 'close') return value;
          return (...args: unknown[]) =>
            down ? Promise.reject(new StoreUnavailableError('connect ECONNREFUSED 127.0.0.1:5432')) : value.apply(target, args);
        },
      }),
  };
}

describe('ops admin API with the store unavailable', () => {
  const sw = switchable();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(sw.wrap);
  });
  afterAll(async () => {
    sw.setDown(false);
    await h?.stop();
  });

  it('answers changes with 503 and a clear message, keeps serving, and applies nothing; works again after', async () => {
    const served = h.pipeline.current!.snapshot;
    const files = [{ file: 'routes.yaml', text: routesYaml(50, 50) }];
    const backends = [{ cluster: 'monolith', weight: 50 }, { cluster: 'checkout-v2', weight: 50 }];
    sw.setDown(true);

    const apply = await h.call('POST', '/api/v1/config/apply', { files, author: 'a', message: 'm' });
    expect(apply.status).toBe(503);
    expect(apply.body.error).toBe('state store unavailable, nothing was changed: connect ECONNREFUSED 127.0.0.1:5432');
    const shift = await h.call('PUT', '/api/v1/routes/checkout/weights', { backends, author: 'a' });
    expect(shift.status).toBe(503);
    const rollout = await h.call('POST', '/api/v1/rollouts', { route: 'checkout', to: 'checkout-v2', steps: [50], interval: '1m', author: 'a' });
    expect(rollout.status).toBe(503);
    expect(h.pipeline.current!.snapshot).toBe(served);

    sw.setDown(false);
    expect((await h.store.listConfigVersions()).map((v) => v.version)).toEqual([1]);
    expect(await h.store.listOverrides()).toEqual([]);
    const again = await h.call('POST', '/api/v1/config/apply', { files, author: 'a', message: 'm' });
    expect(again.status).toBe(200);
    expect(again.body.version.version).toBe(2);
  });
});
