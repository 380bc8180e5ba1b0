import type { Counter } from 'prom-client';

/** Sum of a prom-client counter over all its label sets. */
export async function counterTotal(counter: Counter<string>): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}
