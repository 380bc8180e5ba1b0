import type { PlainValue } from '../../proto/struct.js';

/**
 * Descriptor keys of the envoyproxy/ratelimit format that its config loader accepts (config_impl.go,
 * YamlDescriptor) beyond the ones the shared model declared first. They live with the format that
 * defines them; the model's owners may fold them into config/model.ts, nothing else changes.
 */
declare module '../model.js' {
  interface RateLimitDescriptor {
    /**
     * `share_threshold`: every value matched by this wildcard (`files/*`) counts against one counter
     * named after the pattern, not one counter per value. Only on values ending with `*`.
     */
    shareThreshold?: boolean;
    /** `value_to_metric`: the request's value (not the wildcard or bare key) goes into the stats key. */
    valueToMetric?: boolean;
    /** `metadata`: sent to Envoy in the response's dynamic metadata when this descriptor is under its limit. */
    metadata?: { [key: string]: PlainValue };
  }
}

export {};
