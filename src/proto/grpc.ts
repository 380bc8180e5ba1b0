import type * as grpc from '@grpc/grpc-js';
import { messageType, TO_OBJECT_OPTIONS } from './envoy.js';

/**
 * Builds a grpc-js method definition straight from the protobufjs root, so every server shares the
 * one loaded Envoy API. Messages cross the boundary as plain objects (snake_case, enums by name).
 * A caller may pass its own serializer, e.g. the xDS server's pass-through of pre-encoded bytes.
 */
export function methodDefinition<Req = any, Res = any>(
  servicePath: string,
  method: string,
  requestType: string,
  responseType: string,
  stream: { request: boolean; response: boolean },
  overrides: { responseSerialize?: (value: Res) => Buffer; requestDeserialize?: (bytes: Buffer) => Req } = {},
): grpc.MethodDefinition<Req, Res> {
  const reqT = messageType(requestType);
  const resT = messageType(responseType);
  return {
    path: `/${servicePath}/${method}`,
    requestStream: stream.request,
    responseStream: stream.response,
    originalName: method,
    requestSerialize: (value: Req) => Buffer.from(reqT.encode(reqT.fromObject(value as object)).finish()),
    requestDeserialize:
      overrides.requestDeserialize ?? ((bytes: Buffer) => reqT.toObject(reqT.decode(bytes), TO_OBJECT_OPTIONS) as Req),
    responseSerialize:
      overrides.responseSerialize ?? ((value: Res) => Buffer.from(resT.encode(resT.fromObject(value as object)).finish())),
    responseDeserialize: (bytes: Buffer) => resT.toObject(resT.decode(bytes), TO_OBJECT_OPTIONS) as Res,
  } as grpc.MethodDefinition<Req, Res>;
}

/** Ready-made unary service definitions used by Banyan's servers and by tests acting as Envoy. */
export function rateLimitServiceDefinition(): grpc.ServiceDefinition {
  return {
    ShouldRateLimit: methodDefinition(
      'envoy.service.ratelimit.v3.RateLimitService',
      'ShouldRateLimit',
      'envoy.service.ratelimit.v3.RateLimitRequest',
      'envoy.service.ratelimit.v3.RateLimitResponse',
      { request: false, response: false },
    ),
  };
}

export function authorizationServiceDefinition(): grpc.ServiceDefinition {
  return {
    Check: methodDefinition(
      'envoy.service.auth.v3.Authorization',
      'Check',
      'envoy.service.auth.v3.CheckRequest',
      'envoy.service.auth.v3.CheckResponse',
      { request: false, response: false },
    ),
  };
}
