import type client from 'prom-client';
import { BanyanError } from '../errors.js';
import { prom } from '../telemetry/metrics.js';
import type { Store } from './types.js';

/** Not operations on the backing state: following changes, and closing. */
const UNWATCHED = new Set<string | symbol>(['watch', 'close']);

/**
 * Whether a rejection means the store did not do its job. A domain refusal (a revision conflict, a
 * route already rolling out) is the store answering, so it counts as a success; store-unavailable,
 * store-corrupt, store-locked and any undomained error (a disk error, an SQL error) are failures.
 */
export function isStoreFailure(err: unknown): boolean {
  return !(err instanceof BanyanError) || err.code.startsWith('store-');
}

/**
 * `store` with its health exported (README "Metrics"): banyan_store_up is the outcome of the latest
 * operation, whichever it was, so it follows a database going away at the pace serve already uses the
 * store (the fleet status renews every second) with no probe of its own; failures are counted per
 * operation; the last success is a timestamp, so an alert can say how long the store has been out.
 * Every promise-returning method is measured; the store's behaviour is unchanged.
 */
export function withHealth(store: Store, registry: client.Registry, backend: 'embedded' | 'postgres'): Store {
  const up = new prom.Gauge({
    name: 'banyan_store_up',
    help: 'Whether the latest operation on the state store succeeded (1) or failed (0); backend: embedded or postgres',
    labelNames: ['backend'],
    registers: [registry],
  });
  const failures = new prom.Counter({
    name: 'banyan_store_operation_failures_total',
    help: 'Operations on the state store that failed (unavailable, corrupt, I/O or SQL errors; refusals such as revision conflicts are not failures), by operation',
    labelNames: ['op', 'backend'],
    registers: [registry],
  });
  const lastSuccess = new prom.Gauge({
    name: 'banyan_store_last_success_timestamp_seconds',
    help: 'Unix time of the latest operation on the state store that succeeded',
    labelNames: ['backend'],
    registers: [registry],
  });
  // The backend is a label, so that one query covers a fleet of replicas on either store.
  const labels = { backend };
  // the store was just opened: that was a success
  up.set(labels, 1);
  lastSuccess.set(labels, Date.now() / 1000);
  const succeeded = () => {
    up.set(labels, 1);
    lastSuccess.set(labels, Date.now() / 1000);
  };
  const failed = (op: string, err: unknown) => {
    if (!isStoreFailure(err)) return succeeded();
    up.set(labels, 0);
    failures.inc({ op, backend });
  };
  const wrapped = new Map<string | symbol, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function' || UNWATCHED.has(prop)) return typeof value === 'function' ? value.bind(target) : value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const op = String(prop);
        fn = (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (v) => {
              succeeded();
              return v;
            },
            (err) => {
              failed(op, err);
              throw err;
            },
          );
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}
