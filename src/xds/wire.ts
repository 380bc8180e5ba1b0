import protobuf from 'protobufjs';
import { messageType } from '../proto/envoy.js';

/**
 * Hand assembly of xDS responses from pre-encoded parts. Protobuf fields concatenate, so a
 * DiscoveryResponse is (version, resources, type_url) encoded once plus a per-stream nonce field.
 * Field numbers come from the loaded protos rather than being hard-coded.
 */
function fieldId(type: string, field: string): number {
  const f = messageType(type).fields[field];
  if (!f) throw new Error(`${type} has no field ${field}`);
  return f.id;
}

const LEN = 2; // wire type: length-delimited
const tag = (id: number) => (id << 3) | LEN;

const ANY = 'google.protobuf.Any';
const RESP = 'envoy.service.discovery.v3.DiscoveryResponse';
const DELTA = 'envoy.service.discovery.v3.DeltaDiscoveryResponse';
const RES = 'envoy.service.discovery.v3.Resource';

let tags: ReturnType<typeof loadTags> | undefined;
function loadTags() {
  return {
    anyTypeUrl: tag(fieldId(ANY, 'type_url')),
    anyValue: tag(fieldId(ANY, 'value')),
    respVersion: tag(fieldId(RESP, 'version_info')),
    respResources: tag(fieldId(RESP, 'resources')),
    respTypeUrl: tag(fieldId(RESP, 'type_url')),
    respNonce: tag(fieldId(RESP, 'nonce')),
    deltaSystemVersion: tag(fieldId(DELTA, 'system_version_info')),
    deltaResources: tag(fieldId(DELTA, 'resources')),
    deltaTypeUrl: tag(fieldId(DELTA, 'type_url')),
    deltaRemoved: tag(fieldId(DELTA, 'removed_resources')),
    deltaNonce: tag(fieldId(DELTA, 'nonce')),
    resName: tag(fieldId(RES, 'name')),
    resVersion: tag(fieldId(RES, 'version')),
    resResource: tag(fieldId(RES, 'resource')),
  };
}
function t() {
  tags ??= loadTags();
  return tags;
}

/** protobufjs's Node writer already returns a Buffer: a view, not a second copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** google.protobuf.Any { type_url, value } around already-encoded message bytes. */
export function encodeAnyBytes(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(t().anyTypeUrl).string(typeUrl).uint32(t().anyValue).bytes(value).finish();
}

/** envoy.service.discovery.v3.Resource { name, version, resource: Any } for delta responses. */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Uint8Array {
  return protobuf.Writer.create()
    .uint32(t().resName)
    .string(name)
    .uint32(t().resVersion)
    .string(version)
    .uint32(t().resResource)
    .bytes(any)
    .finish();
}

/** The stream-independent part of a SotW DiscoveryResponse. */
export function encodeSotwBody(version: string, typeUrl: string, anys: Iterable<Uint8Array>): Buffer {
  const w = protobuf.Writer.create().uint32(t().respVersion).string(version);
  for (const a of anys) w.uint32(t().respResources).bytes(a);
  w.uint32(t().respTypeUrl).string(typeUrl);
  return asBuffer(w.finish());
}

/**
 * A response as it waits on a grpc-js call: references to shared, already-encoded parts plus what is
 * this stream's own. grpc-js serializes one message per call at a time (the next after the previous
 * has been written to the socket), so a stream's queued responses hold no bytes of their own until
 * their turn comes: a thousand proxies connecting at once cost one copy each of the response being
 * written, not of every response queued for them.
 */
export interface XdsResponse {
  /** Encoded length, known without encoding (what metrics count when the response is queued). */
  readonly size: number;
  encode(): Buffer;
}

/** varint length of n (n < 2^32). */
function varintLen(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}
/** Length of a length-delimited field with `tagValue` and a payload of `n` bytes. */
const fieldLen = (tagValue: number, n: number) => varintLen(tagValue) + varintLen(n) + n;

/** Shared SotW body + this stream's nonce. */
export class SotwResponse implements XdsResponse {
  readonly size: number;
  constructor(
    private readonly body: Buffer,
    private readonly nonce: string,
  ) {
    this.size = body.length + fieldLen(t().respNonce, Buffer.byteLength(nonce));
  }

  encode(): Buffer {
    return Buffer.concat([this.body, protobuf.Writer.create().uint32(t().respNonce).string(this.nonce).finish()], this.size);
  }
}

/** A DeltaDiscoveryResponse: shared Resource wrappers, this stream's removals and nonce. */
export class DeltaResponse implements XdsResponse {
  readonly size: number;
  constructor(
    private readonly systemVersion: string,
    private readonly typeUrl: string,
    private readonly resources: readonly Uint8Array[],
    private readonly removed: readonly string[],
    private readonly nonce: string,
  ) {
    const tg = t();
    let n = fieldLen(tg.deltaSystemVersion, Buffer.byteLength(systemVersion)) + fieldLen(tg.deltaTypeUrl, Buffer.byteLength(typeUrl));
    for (const r of resources) n += fieldLen(tg.deltaResources, r.length);
    for (const name of removed) n += fieldLen(tg.deltaRemoved, Buffer.byteLength(name));
    this.size = n + fieldLen(tg.deltaNonce, Buffer.byteLength(nonce));
  }

  encode(): Buffer {
    const tg = t();
    const w = protobuf.Writer.create().uint32(tg.deltaSystemVersion).string(this.systemVersion);
    for (const r of this.resources) w.uint32(tg.deltaResources).bytes(r);
    w.uint32(tg.deltaTypeUrl).string(this.typeUrl);
    for (const name of this.removed) w.uint32(tg.deltaRemoved).string(name);
    w.uint32(tg.deltaNonce).string(this.nonce);
    return asBuffer(w.finish());
  }
}
