import type { HttpFeature } from './types.js';

// Placeholder for the ratelimit feature; filled in by the ratelimit work (see HttpFeature).
export const ratelimitFeature: HttpFeature = {
  name: 'ratelimit',
  httpFilters: () => [],
  route: () => ({}),
  clusters: () => [],
};
