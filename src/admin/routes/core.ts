import type client from 'prom-client';
import { formatDiagnostic } from '../../config/diagnostics.js';
import { rateLimitConsumerFindings } from '../../config/ratelimit/resource.js';
import { TypeUrl } from '../../proto/envoy.js';
import { BanyanError } from '../../errors.js';
import { renderMetrics } from '../../telemetry/metrics-http.js';
import type { ServedView } from '../operations.js';
import { RawReply, type Router } from '../router.js';
import type { RefusalRecord } from '../../xds/status.js';
import { guard } from './errors.js';

/** A view that also reports the proxies refused for their certificate identity (PipelineView does). */
const refusedOf = (view: ServedView): RefusalRecord[] => {
  const r = (view as Partial<{ refused(): RefusalRecord[] }>).refused;
  return typeof r === 'function' ? r.call(view) : [];
};

/** What withFindings reads of a proxy the fleet record holds. */
type FleetShape = { userAgent?: { name: string }; types?: { typeUrl: string }[] };

export interface CoreDeps {
  view: ServedView;
  registries: client.Registry[];
  /**
   * Every live replica's record (the FleetPublisher): with it, `GET /api/v1/proxies` lists the
   * fleet's refusals, each naming its replica, from the same read as the fleet's proxies. Without it,
   * this replica's refusals only (and the proxies from `view.fleet()`).
   */
  fleet?: { proxiesAndRefusals(): Promise<{ proxies: unknown[]; refused: unknown[] }> };
}

/** Health, metrics, proxy status and what is being served: the read side every operator needs first. */
export function mountCoreRoutes(router: Router, deps: CoreDeps): void {
  const { view } = deps;
  // Probes and scrapes: no token and any Host (a kubelet or Prometheus names the pod's address); they show no config.
  router.get('/healthz', () => new RawReply(200, 'ok\n'), { role: 'open' });
  router.get('/readyz', () =>
    view.status().config ? new RawReply(200, 'ready\n') : new RawReply(503, 'not ready: no valid config applied yet\n'),
  { role: 'open' });
  router.get('/metrics', async () => {
    const { text, contentType } = await renderMetrics(deps.registries);
    return new RawReply(200, text, contentType);
  }, { role: 'open' });

  // Every replica's proxies (from the store); `?scope=local`: only those connected to this replica.
  // With the store unreachable, this replica's own are still worth showing (`banyan status` reads them): marked partial.
  /**
   * A RateLimitConfig consumer that is not Banyan (envoyproxy/ratelimit) enforces the domains in the
   * reference's fields only: what it gets otherwise than configured is listed on it (`rateLimitFindings`).
   */
  const withFindings = <P extends { userAgent?: { name: string }; types?: { typeUrl: string }[] }>(proxies: P[]): P[] => {
    let domains;
    try {
      domains = view.config('effective').ratelimit;
    } catch {
      return proxies;
    }
    return proxies.map((p) => {
      if (!p.types?.some((t) => t.typeUrl === TypeUrl.RateLimitConfig)) return p;
      const findings = rateLimitConsumerFindings(domains, p.userAgent?.name);
      return findings.length ? { ...p, rateLimitFindings: findings } : p;
    });
  };

  router.get(
    '/api/v1/proxies',
    guard(async ({ url }) => {
      // `refused`: the proxies refused for their certificate identity (README "Proxy identity"), oldest
      // first: every live replica's, each naming its replica; with `?scope=local`, or the store unreachable, this replica's
      const refused = refusedOf(view);
      if (url.searchParams.get('scope') === 'local') return { proxies: withFindings(view.proxies()), refused };
      try {
        if (deps.fleet) {
          const fleet = await deps.fleet.proxiesAndRefusals();
          return { ...fleet, proxies: withFindings(fleet.proxies as FleetShape[]) };
        }
        return { proxies: withFindings(await view.fleet()), refused };
      } catch (err) {
        if (!(err instanceof BanyanError) || err.code !== 'store-unavailable') throw err;
        return { proxies: withFindings(view.proxies()), refused, partial: true, warning: `only this replica's proxies: ${err.message}` };
      }
    }),
  );

  router.get('/api/v1/status', () => {
    const { config, lastRejected: rej, lastHeld: held, groups } = view.status();
    return {
      config: config ? { ...config, warnings: config.warnings.map(formatDiagnostic) } : null,
      lastRejected: rej ? { hash: rej.hash, at: rej.at, errors: rej.diagnostics.map(formatDiagnostic), diagnostics: rej.diagnostics } : null,
      lastHeld: held ? { hash: held.hash, at: held.at, reasons: held.diagnostics.map(formatDiagnostic) } : null,
      groups,
    };
  });

  router.get(
    '/api/v1/config',
    guard(({ url }) => view.config(url.searchParams.get('base') === 'true' ? 'base' : 'effective')),
  );

  // Canonical JSON of the wire bytes (Envoy's config_dump form), so Envoy tooling and Go's protojson read it as is.
  router.get(
    '/api/v1/xds',
    guard(({ url }) => view.xds(url.searchParams.get('group') || undefined)),
  );
}
