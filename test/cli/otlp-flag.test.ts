/** --otlp-endpoint is checked before anything starts: a typo is a usage error, not a silent no-export. */
import { describe, expect, it } from 'vitest';
import { banyan } from './run.js';

describe('--otlp-endpoint', () => {
  for (const command of ['serve', 'authz', 'ratelimit']) {
    it(`${command}: an endpoint that is not a URL exits 2 before serving`, async () => {
      const r = await banyan([command, '--otlp-endpoint', '127.0.0.1:4318']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('OTLP endpoint is not a URL: 127.0.0.1:4318/v1/traces');
    });
  }

  for (const command of ['authz', 'ratelimit']) {
    it(`${command}: so is a bad OTEL_EXPORTER_OTLP_ENDPOINT`, async () => {
      const r = await banyan([command], { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('OTLP endpoint is not a URL');
    });
  }
});
