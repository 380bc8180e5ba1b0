/** Envoy's rls.proto messages in protobufjs object form (snake_case, enums by name), as they cross grpc-js. */

export interface RlsDescriptor {
  entries?: { key?: string; value?: string }[];
  limit?: { requests_per_unit?: number; unit?: string | number };
  hits_addend?: { value?: number };
}

export interface RlsRequest {
  domain?: string;
  descriptors?: RlsDescriptor[];
  hits_addend?: number;
}

export type RlsCode = 'OK' | 'OVER_LIMIT';

export interface RlsDescriptorStatus {
  code: RlsCode;
  current_limit?: { requests_per_unit: number; unit: string; name?: string };
  limit_remaining?: number;
  duration_until_reset?: { seconds: number; nanos?: number };
}

export interface RlsResponse {
  overall_code: RlsCode;
  statuses: RlsDescriptorStatus[];
  response_headers_to_add?: { key: string; value: string }[];
  /** A google.protobuf.Struct in the loaded root's object form: build it with proto/struct.ts. */
  dynamic_metadata?: Record<string, unknown>;
}
