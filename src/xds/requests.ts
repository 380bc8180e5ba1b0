import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { messageType, TO_OBJECT_OPTIONS } from '../proto/envoy.js';
import type { ErrorDetail } from './answers.js';
import type { RawNode } from './node.js';


/** Bytes that are not a well-formed protobuf message: answered INVALID_ARGUMENT (reason `malformed`). */
class MalformedBytes extends Error {}

/**
 * What a client may send on an xDS stream (README "xDS limits"). A request beyond them ends its stream
 * with the status named in `Refusal` and counts in `banyan_xds_requests_refused_total{reason}`; nothing
 * of it is kept.
 */
export interface XdsLimits {
  /** Bytes of one DiscoveryRequest / DeltaDiscoveryRequest (the gRPC server's own cap is larger: LRS and the metrics service share it). */
  maxRequestBytes: number;
  /** Resource names in one request (SotW resource_names; delta subscribe + unsubscribe + initial_resource_versions). */
  maxResourceNames: number;
  /** Bytes of one resource name. */
  maxNameBytes: number;
  /** Bytes of response_nonce (Banyan's own nonces are a few characters). */
  maxNonceBytes: number;
  /** Bytes of version_info (Banyan's versions are 16 characters). */
  maxVersionBytes: number;
  /** Bytes of type_url. */
  maxTypeUrlBytes: number;
  /** Distinct type URLs one stream may ask for (Envoy asks for at most a handful). */
  maxTypesPerStream: number;
  /** A stream that sends no request this long after opening is ended (DEADLINE_EXCEEDED); 0: never. */
  firstRequestTimeoutMs: number;
  /** Characters of a NACK's error_detail.message kept in status (the rest is cut, never refused). */
  maxNackMessageChars: number;
}

export const DEFAULT_LIMITS: Readonly<XdsLimits> = Object.freeze({
  maxRequestBytes: 4 * 1024 * 1024,
  maxResourceNames: 20_000,
  maxNameBytes: 2048,
  maxNonceBytes: 128,
  maxVersionBytes: 512,
  maxTypeUrlBytes: 256,
  maxTypesPerStream: 32,
  firstRequestTimeoutMs: 30_000,
  maxNackMessageChars: 4096,
});

export type RefusalReason =
  | 'message_too_large'
  | 'malformed'
  | 'too_many_names'
  | 'name_too_long'
  | 'nonce_too_long'
  | 'version_too_long'
  | 'bad_type_url'
  | 'too_many_types'
  | 'first_request_timeout'
  | 'wrong_type';

/** Why a request was refused: the gRPC status the stream ends with, and the metric's reason. */
export class Refusal {
  constructor(
    readonly reason: RefusalReason,
    readonly code: grpc.status,
    readonly message: string,
  ) {}
}

/**
 * A type URL as protobuf's Any defines it: something ending in `/` and a fully-qualified message name
 * (`type.googleapis.com/envoy.config.cluster.v3.Cluster`). A well-formed type Banyan does not serve
 * (VirtualHost, ScopedRouteConfiguration, Runtime, a newer Envoy's) is answered empty, as the xDS
 * protocol lets a server do; anything else is not a type URL and is refused.
 */
const TYPE_URL = /^[A-Za-z0-9.\-_~:]+(?:\/[A-Za-z0-9.\-_~]+)*\/[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/;

export function checkTypeUrl(typeUrl: string, limits: XdsLimits): Refusal | undefined {
  if (Buffer.byteLength(typeUrl) > limits.maxTypeUrlBytes) {
    return new Refusal('bad_type_url', grpc.status.INVALID_ARGUMENT, `type_url is longer than ${limits.maxTypeUrlBytes} bytes`);
  }
  if (!TYPE_URL.test(typeUrl)) {
    return new Refusal('bad_type_url', grpc.status.INVALID_ARGUMENT, `type_url ${JSON.stringify(typeUrl.slice(0, 80))} is not a type URL (<prefix>/<package>.<Message>)`);
  }
  return undefined;
}

// Field numbers, as in envoy/service/discovery/v3/discovery.proto (checked against the loaded protos in tests).
const SOTW = { version: 1, node: 2, names: 3, typeUrl: 4, nonce: 5, errorDetail: 6 } as const;
const DELTA = { node: 1, typeUrl: 2, subscribe: 3, unsubscribe: 4, initial: 5, nonce: 6, errorDetail: 7 } as const;
const LEN = 2;

/** A request refused before it was decoded: what the stream ends with. */
export interface RefusedRequest {
  readonly refused: Refusal;
}

/**
 * envoy.service.discovery.v3.DiscoveryRequest read straight from its bytes, without decoding
 * resource_names: their bytes are hashed (`namesKey`) so that a stream can tell an ACK repeating the
 * previous names from a change without building the list; `resource_names` decodes it on first use.
 */
export class SotwRequest {
  version_info = '';
  type_url = '';
  response_nonce = '';
  node?: RawNode;
  error_detail?: ErrorDetail;
  /** How many names the request carries. */
  readonly nameCount: number;
  /** Hash of the resource_names fields' bytes, in order ('' when there are none). */
  readonly namesKey: string;
  private names?: string[];
  /** The request's bytes, held only until the names are decoded (or the request is dropped). */
  private bytes?: Buffer;

  constructor(bytes: Buffer, nameCount: number, namesKey: string) {
    this.nameCount = nameCount;
    this.namesKey = namesKey;
    if (nameCount) this.bytes = bytes;
    else this.names = [];
  }

  get resource_names(): string[] {
    if (!this.names) {
      const names: string[] = [];
      const r = protobuf.Reader.create(this.bytes!);
      while (r.pos < r.len) {
        const tag = r.uint32();
        if (tag === ((SOTW.names << 3) | LEN)) names.push(r.string());
        else r.skipType(tag & 7);
      }
      this.names = names;
      this.bytes = undefined;
    }
    return this.names;
  }
}

let nodeType: protobuf.Type | undefined;
let statusType: protobuf.Type | undefined;
const decodeNode = (bytes: Uint8Array) => (nodeType ??= messageType('envoy.config.core.v3.Node')).toObject(nodeType.decode(bytes), TO_OBJECT_OPTIONS) as RawNode;
const decodeStatus = (bytes: Uint8Array) => (statusType ??= messageType('google.rpc.Status')).toObject(statusType.decode(bytes), TO_OBJECT_OPTIONS) as ErrorDetail;

const tooLong = (reason: RefusalReason, field: string, max: number) =>
  new Refusal(reason, grpc.status.INVALID_ARGUMENT, `${field} is longer than ${max} bytes`);
const tooMany = (max: number) => new Refusal('too_many_names', grpc.status.RESOURCE_EXHAUSTED, `request names more than ${max} resources`);

function checkSize(bytes: Buffer, limits: XdsLimits): Refusal | undefined {
  if (bytes.length <= limits.maxRequestBytes) return undefined;
  return new Refusal('message_too_large', grpc.status.RESOURCE_EXHAUSTED, `request of ${bytes.length} bytes is larger than the ${limits.maxRequestBytes} bytes allowed`);
}

/** Length of the length-delimited field whose tag was just read, checked against the bytes left. */
function lengthOf(r: protobuf.Reader): number {
  const n = r.uint32();
  if (n > r.len - r.pos) throw new MalformedBytes('field length beyond the end of the message');
  return n;
}

/**
 * A 64-bit hash of bytes [from, to) (two 32-bit multiply-xorshift lanes over 4-byte words), seeded with
 * `seed`. Not cryptographic, and needs not be: it only decides whether a stream's own request repeats
 * its own previous names, so a collision a client could craft would only mislead that client's stream.
 */
function hashRange(b: Buffer, from: number, to: number, seed: [number, number]): void {
  let h1 = seed[0];
  let h2 = seed[1];
  let p = from;
  for (; p + 4 <= to; p += 4) {
    const w = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
    h1 = Math.imul(h1 ^ w, 0x9e3779b1);
    h1 ^= h1 >>> 15;
    h2 = Math.imul(h2 ^ w, 0x85ebca77);
    h2 ^= h2 >>> 13;
  }
  for (; p < to; p++) {
    h1 = Math.imul(h1 ^ b[p], 0x9e3779b1);
    h2 = Math.imul(h2 ^ b[p], 0x85ebca77);
  }
  seed[0] = h1;
  seed[1] = h2;
}

/** A varint at `pos` of `b`: [value, next position]; values past 2^31 are refused (no field is that long). */
function varint(b: Buffer, pos: number, end: number): [number, number] {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw new MalformedBytes('truncated varint');
    const x = b[pos++];
    v |= (x & 0x7f) << shift;
    if (!(x & 0x80)) {
      if (v < 0) throw new MalformedBytes('varint out of range');
      return [v, pos];
    }
  }
  throw new MalformedBytes('varint too long');
}

/** Skips a field of wire type `wt` at `pos`, returning the next position. */
function skip(b: Buffer, pos: number, end: number, wt: number): number {
  switch (wt) {
    case 0:
      return varint(b, pos, end)[1];
    case 1:
      return pos + 8;
    case 2: {
      const [n, p] = varint(b, pos, end);
      return p + n;
    }
    case 5:
      return pos + 4;
    default:
      throw new MalformedBytes(`wire type ${wt} not supported`);
  }
}

/** Decodes a DiscoveryRequest as the SotW stream reads it, or says why it is refused. */
export function readSotwRequest(bytes: Buffer, limits: XdsLimits): SotwRequest | RefusedRequest {
  const big = checkSize(bytes, limits);
  if (big) return { refused: big };
  try {
    const end = bytes.length;
    let version = '';
    let typeUrl = '';
    let nonce = '';
    let node: Uint8Array | undefined;
    let error: Uint8Array | undefined;
    let count = 0;
    const hash: [number, number] = [0x243f6a88, 0x85a308d3];
    // The names' fields are hashed as runs of adjacent bytes (one run when, as usual, they are contiguous).
    let runStart = -1;
    let runEnd = -1;
    let runs = 0;
    let namesBytes = 0;
    let pos = 0;
    while (pos < end) {
      const start = pos;
      let tag: number;
      // one-byte varints (every tag here, and names under 128 bytes) without the general path
      if (bytes[pos] < 0x80) tag = bytes[pos++];
      else [tag, pos] = varint(bytes, pos, end);
      const field = tag >>> 3;
      if ((tag & 7) !== LEN || field < SOTW.version || field > SOTW.errorDetail) {
        pos = skip(bytes, pos, end, tag & 7);
        if (pos > end) throw new MalformedBytes('field beyond the end of the message');
        continue;
      }
      let n: number;
      if (pos < end && bytes[pos] < 0x80) n = bytes[pos++];
      else [n, pos] = varint(bytes, pos, end);
      const from = pos;
      pos += n;
      if (pos > end) throw new MalformedBytes('field length beyond the end of the message');
      switch (field) {
        case SOTW.names:
          if (++count > limits.maxResourceNames) return { refused: tooMany(limits.maxResourceNames) };
          if (n > limits.maxNameBytes) return { refused: tooLong('name_too_long', 'a resource name', limits.maxNameBytes) };
          if (start !== runEnd) {
            if (runStart >= 0) {
              hashRange(bytes, runStart, runEnd, hash);
              namesBytes += runEnd - runStart;
            }
            runStart = start;
            runs++;
          }
          runEnd = pos;
          break;
        case SOTW.version:
          if (n > limits.maxVersionBytes) return { refused: tooLong('version_too_long', 'version_info', limits.maxVersionBytes) };
          version = bytes.toString('utf8', from, pos);
          break;
        case SOTW.typeUrl:
          if (n > limits.maxTypeUrlBytes) return { refused: tooLong('bad_type_url', 'type_url', limits.maxTypeUrlBytes) };
          typeUrl = bytes.toString('utf8', from, pos);
          break;
        case SOTW.nonce:
          if (n > limits.maxNonceBytes) return { refused: tooLong('nonce_too_long', 'response_nonce', limits.maxNonceBytes) };
          nonce = bytes.toString('utf8', from, pos);
          break;
        case SOTW.node:
          node = bytes.subarray(from, pos);
          break;
        case SOTW.errorDetail:
          error = bytes.subarray(from, pos);
          break;
      }
    }
    if (runStart >= 0) {
      hashRange(bytes, runStart, runEnd, hash);
      namesBytes += runEnd - runStart;
    }
    // count and length make the key exact on the cheap part; the hash covers the content
    const key = count ? `${count}:${namesBytes}:${runs}:${(hash[0] >>> 0).toString(36)}.${(hash[1] >>> 0).toString(36)}` : '';
    const req = new SotwRequest(bytes, count, key);
    req.version_info = version;
    req.type_url = typeUrl;
    req.response_nonce = nonce;
    if (node) req.node = decodeNode(node);
    if (error) req.error_detail = decodeStatus(error);
    return req;
  } catch (err) {
    return { refused: new Refusal('malformed', grpc.status.INVALID_ARGUMENT, `malformed DiscoveryRequest: ${(err as Error).message}`) };
  }
}

/**
 * Checks a DeltaDiscoveryRequest's limits on its bytes, then decodes it with the loaded protos (a
 * delta ACK carries no names: there is nothing to skip).
 */
export function readDeltaRequest<T>(bytes: Buffer, limits: XdsLimits, decode: (bytes: Buffer) => T): T | RefusedRequest {
  const big = checkSize(bytes, limits);
  if (big) return { refused: big };
  try {
    const r = protobuf.Reader.create(bytes);
    let count = 0;
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if ((tag & 7) !== LEN || field < DELTA.node || field > DELTA.errorDetail) {
        r.skipType(tag & 7);
        continue;
      }
      const n = lengthOf(r);
      r.pos += n;
      switch (field) {
        case DELTA.subscribe:
        case DELTA.unsubscribe:
        case DELTA.initial:
          if (++count > limits.maxResourceNames) return { refused: tooMany(limits.maxResourceNames) };
          // an initial_resource_versions entry holds a name and a version: bounded by both
          if (n > limits.maxNameBytes + (field === DELTA.initial ? limits.maxVersionBytes + 8 : 0)) {
            return { refused: tooLong('name_too_long', 'a resource name', limits.maxNameBytes) };
          }
          break;
        case DELTA.typeUrl:
          if (n > limits.maxTypeUrlBytes) return { refused: tooLong('bad_type_url', 'type_url', limits.maxTypeUrlBytes) };
          break;
        case DELTA.nonce:
          if (n > limits.maxNonceBytes) return { refused: tooLong('nonce_too_long', 'response_nonce', limits.maxNonceBytes) };
          break;
      }
    }
    return decode(bytes);
  } catch (err) {
    return { refused: new Refusal('malformed', grpc.status.INVALID_ARGUMENT, `malformed DeltaDiscoveryRequest: ${(err as Error).message}`) };
  }
}

export function isRefused(req: unknown): req is RefusedRequest {
  return typeof req === 'object' && req !== null && (req as RefusedRequest).refused instanceof Refusal;
}
