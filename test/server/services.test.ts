/** The in-process rate limit and authz services of `banyan serve`, and how they are fed configs. */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/model.js';
import { startServices } from '../../src/server/services.js';
import { ServiceStack } from '../../src/service/stack.js';
import { createRegistry } from '../../src/telemetry/metrics.js';

describe('in-process services', () => {
  let stack: ServiceStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  it('a config the rate limit service refuses is logged, and it keeps enforcing its last good one', async () => {
    const logs: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    stack = new ServiceStack();
    const services = await startServices({ host: '127.0.0.1', ratelimitPort: 0, authzPort: 0 }, createRegistry(), log, stack);
    expect(services.ports).toEqual({ ratelimit: expect.any(Number), authz: expect.any(Number) });

    const good = { domain: 'edge', descriptors: [], pos: { file: 'a.yaml', line: 1, col: 1 } };
    services.feed({ ratelimit: [good], auth: { providers: [] } } as unknown as Config);
    // Two domains of one name: only the service's own check (validate.ts) sees it in a config built in code.
    services.feed({ ratelimit: [good, good], auth: { providers: [] } } as unknown as Config);

    expect(services.ratelimit!.limiter.domains.map((d) => d.domain)).toEqual(['edge']);
    expect(logs.filter((l) => l.level === 50).map((l) => l.msg)).toContain(
      'the rate limit service refused the config being served; it keeps enforcing its last good one',
    );
  });
});
