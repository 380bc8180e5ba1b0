import { describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/proto/envoy.js';
import { pushOrder } from '../../src/xds/order.js';

describe('pushOrder', () => {
  it('secrets first (clusters and listeners name them), then CDS, EDS, LDS, RDS, then the rest by name', () => {
    const all = [TypeUrl.RateLimitConfig, TypeUrl.RouteConfiguration, TypeUrl.Listener, TypeUrl.ClusterLoadAssignment, TypeUrl.Cluster, TypeUrl.Secret, 'type.googleapis.com/a.Other'];
    expect(pushOrder(all)).toEqual([
      TypeUrl.Secret,
      TypeUrl.Cluster,
      TypeUrl.ClusterLoadAssignment,
      TypeUrl.Listener,
      TypeUrl.RouteConfiguration,
      'type.googleapis.com/a.Other',
      TypeUrl.RateLimitConfig,
    ]);
  });
});
