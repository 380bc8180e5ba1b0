import { RDS, SotwClient, type Resp } from '../conformance/harness.js';

/**
 * A scripted proxy on ADS that subscribes to the `edge` RouteConfiguration and ACKs everything it
 * receives, so tests can check the weights a connected client actually got (and the proxy shows SYNCED).
 */
export class RdsWatcher {
  private readonly client: SotwClient;
  private latest?: Resp;

  constructor(address: string, readonly nodeId: string) {
    this.client = SotwClient.ads(address, { id: nodeId });
    this.client.request(RDS, ['edge']);
  }

  /** ACKs what arrived since the last call; the route's weights in the newest RouteConfiguration. */
  async weights(route: string): Promise<number[]> {
    while (this.client.unread().length > 0) {
      const r = await this.client.next();
      if (r.type_url !== RDS) continue;
      this.client.ack(r, ['edge']);
      this.latest = r;
    }
    if (!this.latest) throw new Error('no RouteConfiguration received yet');
    return weightsOf(this.latest.resources[0], route);
  }

  close(): void {
    this.client.close();
  }
}

type WeightedClusters = { clusters: { name: string; weight: number | { value: number } }[] };

function weightsOf(routeConfig: Record<string, unknown>, name: string): number[] {
  for (const vh of routeConfig.virtual_hosts as { routes: { name: string; route?: { cluster?: string; weighted_clusters?: WeightedClusters } }[] }[]) {
    const r = vh.routes.find((x) => x.name === name);
    if (!r?.route) continue;
    if (r.route.cluster) return [100];
    return r.route.weighted_clusters!.clusters.map((c) => (typeof c.weight === 'number' ? c.weight : c.weight.value));
  }
  throw new Error(`route ${name} not in the RouteConfiguration`);
}
