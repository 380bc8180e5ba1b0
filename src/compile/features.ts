import { authzFeature } from './authz.js';
import { corsFeature } from './cors.js';
import { faultFeature } from './fault.js';
import { observabilityFeature } from './observability.js';
import { ratelimitFeature } from './ratelimit.js';
import type { HttpFeature } from './types.js';

/**
 * Every cross-cutting HTTP feature. Order here does not order filters (HTTP_FILTER_TABLE in
 * filters.ts does); it is only the order in which features add per-route config and clusters.
 */
export const FEATURES: readonly HttpFeature[] = [corsFeature, faultFeature, authzFeature, ratelimitFeature, observabilityFeature];
