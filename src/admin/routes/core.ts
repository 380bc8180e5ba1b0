import type client from 'prom-client';
import { formatDiagnostic } from '../../config/diagnostics.js';
import { canonicalJsonOf } from '../../proto/json.js';
import { renderMetrics } from '../../telemetry/metrics-http.js';
import type { ConfigPipeline } from '../../server/pipeline.js';
import { HttpError, RawReply, type Router } from '../router.js';

export interface CoreDeps {
  pipeline: ConfigPipeline;
  registries: client.Registry[];
  proxies(): unknown[];
  ready(): boolean;
}

/** Health, metrics, proxy status and what is being served: the read side every operator needs first. */
export function mountCoreRoutes(router: Router, deps: CoreDeps): void {
  router.get('/healthz', () => new RawReply(200, 'ok\n'));
  router.get('/readyz', () =>
    deps.ready() ? new RawReply(200, 'ready\n') : new RawReply(503, 'not ready: no valid config applied yet\n'),
  );
  router.get('/metrics', async () => {
    const { text, contentType } = await renderMetrics(deps.registries);
    return new RawReply(200, text, contentType);
  });

  router.get('/api/v1/proxies', () => ({ proxies: deps.proxies() }));

  router.get('/api/v1/status', () => {
    const cur = deps.pipeline.current;
    const rej = deps.pipeline.lastRejected;
    const held = deps.pipeline.lastHeld;
    return {
      config: cur
        ? { hash: cur.hash, files: cur.files.map((f) => f.file), appliedAt: cur.appliedAt, warnings: cur.warnings.map(formatDiagnostic) }
        : null,
      lastRejected: rej ? { hash: rej.hash, at: rej.at, errors: rej.diagnostics.map(formatDiagnostic), diagnostics: rej.diagnostics } : null,
      lastHeld: held ? { hash: held.hash, at: held.at, reasons: held.diagnostics.map(formatDiagnostic) } : null,
      groups: cur ? [...cur.snapshot.groups.keys()] : [],
    };
  });

  router.get('/api/v1/config', ({ url }) => {
    const cur = deps.pipeline.current;
    if (!cur) throw new HttpError(503, 'no valid config applied yet');
    return url.searchParams.get('base') === 'true' ? cur.base : cur.effective;
  });

  // What each group is served, as the canonical JSON of the wire bytes (Envoy's config_dump form),
  // so that Envoy tooling and Go's protojson read it as is.
  router.get('/api/v1/xds', ({ url }) => {
    const cur = deps.pipeline.current;
    if (!cur) throw new HttpError(503, 'no valid config applied yet');
    const wanted = url.searchParams.get('group');
    const out: Record<string, Record<string, Record<string, unknown>>> = {};
    for (const [group, resources] of cur.snapshot.groups) {
      if (wanted && group !== wanted) continue;
      const byType: Record<string, Record<string, unknown>> = {};
      for (const [typeUrl, named] of resources) {
        byType[typeUrl] = Object.fromEntries([...named].map(([name, r]) => [name, canonicalJsonOf(typeUrl, r)]));
      }
      out[group] = byType;
    }
    if (wanted && !out[wanted]) throw new HttpError(404, `no proxy group "${wanted}"; have: ${[...cur.snapshot.groups.keys()].join(', ')}`);
    return out;
  });
}

