import type { HttpFeature } from './types.js';

// Placeholder for the authz feature; filled in by the authz work (see HttpFeature).
export const authzFeature: HttpFeature = {
  name: 'authz',
  httpFilters: () => [],
  route: () => ({}),
  clusters: () => [],
};
