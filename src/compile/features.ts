import { authzFeature } from './authz.js';
import { ratelimitFeature } from './ratelimit.js';
import type { HttpFeature } from './types.js';

/** Cross-cutting HTTP features in filter-chain order: authorize first, then spend rate-limit budget. */
export const FEATURES: readonly HttpFeature[] = [authzFeature, ratelimitFeature];
