import type client from 'prom-client';
import type { Logger } from 'pino';
import { forwardBackends, listRoutes } from '../config/routes.js';
import type { Store } from '../store/types.js';
import { prom } from '../telemetry/metrics.js';
import type { ConfigPipeline } from './pipeline.js';

/**
 * Route weights and rollout progress, computed at scrape from what is served and stored now (README
 * "Metrics"), like the sync gauges: a route or rollout that goes away is absent from the next scrape,
 * with no series to forget.
 *
 * Weights are those of the config the pipeline serves (the effective config its snapshot was compiled
 * from, overrides and rollout steps included), by route reference (config/routes.ts) and cluster. A
 * route has the same weights in every group that serves its listener, so there is no group label.
 * Rollouts are the active ones (running, paused) as the store holds them: an ended rollout's series go.
 */
export function registerRouteGauges(registry: client.Registry, pipeline: ConfigPipeline, store: Store, log: Logger): void {
  new prom.Gauge({
    name: 'banyan_route_cluster_weight',
    help: 'Weight each route of the served config gives each of its clusters (forward routes only)',
    labelNames: ['route', 'cluster'],
    registers: [registry],
    collect() {
      this.reset();
      const current = pipeline.current;
      if (!current) return;
      for (const loc of listRoutes(current.effective)) {
        if (loc.route.action.kind !== 'forward') continue;
        for (const b of forwardBackends(loc)) this.set({ route: loc.ref, cluster: b.cluster }, b.weight);
      }
    },
  });

  // One store read per scrape for the three gauges: the first to collect reads, the others reuse it.
  let read: Promise<Awaited<ReturnType<Store['activeRollouts']>>> | undefined;
  const active = () => {
    if (!read) {
      read = store.activeRollouts().catch((err: unknown) => {
        // the scrape still answers (without rollout series); banyan_store_up says the store is out
        log.warn({ err }, 'rollout gauges: cannot read active rollouts');
        return [];
      });
      void read.finally(() => setImmediate(() => (read = undefined)));
    }
    return read;
  };
  new prom.Gauge({
    name: 'banyan_rollout_step',
    help: 'The step in force of each active rollout (1 = first), by route and rollout id',
    labelNames: ['route', 'rollout'],
    registers: [registry],
    async collect() {
      const rollouts = await active();
      this.reset();
      for (const r of rollouts) this.set({ route: r.route, rollout: r.id }, r.currentStep + 1);
    },
  });
  new prom.Gauge({
    name: 'banyan_rollout_steps',
    help: 'How many steps each active rollout has, by route and rollout id',
    labelNames: ['route', 'rollout'],
    registers: [registry],
    async collect() {
      const rollouts = await active();
      this.reset();
      for (const r of rollouts) this.set({ route: r.route, rollout: r.id }, r.steps.length);
    },
  });
  new prom.Gauge({
    name: 'banyan_rollout_target_percent',
    help: "Each active rollout's share of the route's traffic given to its target cluster now, in percent",
    labelNames: ['route', 'rollout', 'cluster'],
    registers: [registry],
    async collect() {
      const rollouts = await active();
      this.reset();
      for (const r of rollouts) this.set({ route: r.route, rollout: r.id, cluster: r.toBackend }, r.percent);
    },
  });
  new prom.Gauge({
    name: 'banyan_rollout_state',
    help: 'Active rollouts: 1 for the state (running, paused) and phase (syncing, baking, gating) each is in, by route and rollout id',
    labelNames: ['route', 'rollout', 'state', 'phase'],
    registers: [registry],
    async collect() {
      const rollouts = await active();
      this.reset();
      for (const r of rollouts) this.set({ route: r.route, rollout: r.id, state: r.state, phase: r.phase ?? 'syncing' }, 1);
    },
  });
}
