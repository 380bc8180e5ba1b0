import protobuf from 'protobufjs';

/**
 * Fields Envoy added to its API after the proto snapshot that @grpc/grpc-js-xds ships, declared with
 * Envoy's own field numbers so that they travel on the wire (a decoder that lacks a field skips it,
 * so older Envoys ignore them):
 * - RateLimitDescriptor.hits_addend = 3 (google.protobuf.UInt64Value): per-descriptor hits; 0 = check only.
 * - RateLimit.Action.query_parameters = 12 (QueryParameters {query_parameter_name = 1,
 *   descriptor_key = 2, skip_if_absent = 3}): a descriptor entry from a query parameter's value.
 * - WEEK = 7 in the rate limit unit enums.
 * Applied by envoyRoot() while it loads, before anyone can see the root: declaring them later would
 * change the types under encoders already built, and would make whoever first needs them (the
 * compiler) mutate shared state. Skips what the snapshot already has, for a newer proto tree.
 */
export function applyEnvoyApiAdditions(root: protobuf.Root): void {
  const descriptor = root.lookupType('envoy.extensions.common.ratelimit.v3.RateLimitDescriptor');
  if (!descriptor.fields.hits_addend) descriptor.add(new protobuf.Field('hits_addend', 3, 'google.protobuf.UInt64Value'));

  // A process may load part of the API (restrictEnvoyProtos): what it lacks needs no addition.
  const action = root.lookup('envoy.config.route.v3.RateLimit.Action');
  if (action instanceof protobuf.Type && !action.fields.query_parameters) {
    const qp = new protobuf.Type('QueryParameters')
      .add(new protobuf.Field('query_parameter_name', 1, 'string'))
      .add(new protobuf.Field('descriptor_key', 2, 'string'))
      .add(new protobuf.Field('skip_if_absent', 3, 'bool'));
    action.add(qp);
    const field = new protobuf.Field('query_parameters', 12, 'QueryParameters');
    action.add(field);
    action.oneofs.action_specifier?.add(field);
  }

  for (const name of ['envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit', 'envoy.type.v3.RateLimitUnit']) {
    const e = root.lookup(name);
    if (e instanceof protobuf.Enum && e.values.WEEK === undefined) e.add('WEEK', 7);
  }
}
