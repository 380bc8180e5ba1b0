import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client, { type Registry } from 'prom-client';

/**
 * The Prometheus exposition of every registry a process holds (one per server: see metrics.ts), as
 * one text; what each /metrics endpoint answers.
 */
export async function renderMetrics(registries: readonly Registry[]): Promise<{ text: string; contentType: string }> {
  const merged = registries.length === 1 ? registries[0] : client.Registry.merge([...registries]);
  return { text: await merged.metrics(), contentType: merged.contentType };
}

export interface MetricsEndpoint {
  port: number;
  close(): Promise<void>;
}

/**
 * GET /metrics from `registries` on its own HTTP port (for the standalone services, which have no
 * admin API); resolves once listening, with the bound port (0 = any free port).
 */
export async function serveMetrics(registries: readonly Registry[], port: number, host = '0.0.0.0'): Promise<MetricsEndpoint> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    renderMetrics(registries).then(
      ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // A scraper's keep-alive connection would otherwise hold close() open.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
