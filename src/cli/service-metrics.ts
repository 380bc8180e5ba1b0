import type { Registry } from 'prom-client';
import { RawReply, Router } from '../admin/router.js';
import { AdminServer } from '../admin/server.js';
import { assertSecureBind, type TlsFiles } from '../grpc/tls.js';
import { ServiceStack, type StopReport } from '../service/stack.js';
import type { Logger } from '../telemetry/logger.js';
import { renderMetrics } from '../telemetry/metrics-http.js';

export interface ServiceMetricsOptions {
  /** The service, as messages name it: `rate limit`, `authz`. */
  service: string;
  registries: readonly Registry[];
  port: number;
  host: string;
  /** The service's own TLS files (--tls-cert/--tls-key/--tls-client-ca): HTTPS with that certificate, followed. */
  tls?: TlsFiles;
  /** Allow plaintext off loopback (--insecure). */
  insecure?: boolean;
  logger?: Logger;
  /** The certificate files' periodic re-check (besides fs.watch); default 10 s. */
  recheckMs?: number;
}

export interface ServiceMetrics {
  port: number;
  scheme: 'http' | 'https';
  close(): Promise<void>;
}

/**
 * A standalone service's `/metrics` and `/healthz` under the rule of every Banyan server (README
 * "Transport security"): with TLS files, HTTPS with the service's own certificate, rotated without a
 * restart (the admin API's server, AdminServer, does the serving); without them, plaintext only on
 * loopback unless `insecure`. With `caFile` and `requireClientCert` a scraper needs a client certificate.
 */
export async function serveServiceMetrics(o: ServiceMetricsOptions): Promise<ServiceMetrics> {
  assertSecureBind(`${o.service} metrics endpoint`, o.host, { tls: o.tls, insecure: o.insecure });
  const router = new Router(() => undefined)
    .get(
      '/metrics',
      async () => {
        const { text, contentType } = await renderMetrics(o.registries);
        return new RawReply(200, text, contentType);
      },
      { role: 'open' },
    )
    .get('/healthz', () => new RawReply(200, 'ok\n'), { role: 'open' });
  const server = new AdminServer(router, { tls: o.tls, logger: o.logger, recheckMs: o.recheckMs });
  const port = await server.listen(o.port, o.host);
  return { port, scheme: o.tls ? 'https' : 'http', close: () => server.close() };
}

/**
 * A started service plus its metrics endpoint, stopped in reverse order (the endpoint first); an
 * endpoint that cannot start stops the service and throws. `announce` logs `<service> metrics
 * endpoint listening` (port, scheme).
 */
export async function withServiceMetrics(
  running: { shutdown(): Promise<StopReport> },
  name: string,
  o: ServiceMetricsOptions,
): Promise<{ metrics: ServiceMetrics; shutdown: () => Promise<StopReport>; announce(): void }> {
  let metrics: ServiceMetrics;
  try {
    metrics = await serveServiceMetrics(o);
  } catch (err) {
    await running.shutdown();
    throw err;
  }
  const stack = new ServiceStack(o.logger);
  stack.add(name, async () => {
    const r = await running.shutdown();
    if (!r.clean) throw new Error(`${name}: ${[...r.failed.map((p) => `${p} failed`), ...r.timedOut.map((p) => `${p} timed out`)].join(', ')}`);
  });
  stack.add('metrics endpoint', () => metrics.close());
  return {
    metrics,
    shutdown: () => stack.stop(),
    // once the caller stops on signals: a probe that waits for this line may send SIGTERM at once
    announce: () => o.logger?.info({ port: metrics.port, scheme: metrics.scheme, host: o.host }, `${o.service} metrics endpoint listening`),
  };
}
