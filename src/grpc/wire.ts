/**
 * The gRPC-over-HTTP/2 wire rules a server needs beyond protobuf: length-prefixed message frames,
 * grpc-timeout, grpc-message encoding and message compression. Each as the gRPC HTTP/2 protocol
 * (PROTOCOL-HTTP2.md) defines it, so that every real client (grpc-js, grpc-go, C-core, grpc-java,
 * Envoy's own gRPC client) reads the same thing.
 */
import zlib from 'node:zlib';

/** gRPC status codes (the numbers are the protocol's; no gRPC library is needed for them). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** The default maximum received message size of every gRPC implementation (4 MiB). */
export const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

/** Encodings a request may use; the response is never compressed (small, and the CPU counts). */
export const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';

/** grpc-timeout: 1–8 ASCII digits and a unit (H, M, S, m, u, n). undefined = absent; NaN = malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value[0] : value;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v ?? '');
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H':
      return n * 3_600_000;
    case 'M':
      return n * 60_000;
    case 'S':
      return n * 1000;
    case 'm':
      return n;
    case 'u':
      return n / 1000;
    default:
      return n / 1e6;
  }
}

const PLAIN_MESSAGE = /^[\x20-\x24\x26-\x7e]*$/;

/** grpc-message: percent-encodes '%' and every byte outside 0x20–0x7E of the UTF-8 text. */
export function encodeGrpcMessage(text: string): string {
  if (PLAIN_MESSAGE.test(text)) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** One uncompressed length-prefixed message. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Why a request body is not exactly one acceptable message; `code` is the gRPC status to answer. */
export class FrameError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}


/**
 * The single message of a unary request body, decompressed per `encoding` (the request's
 * grpc-encoding). Decompression is bounded by `maxBytes`, so a small compressed body cannot expand
 * into a large allocation.
 */
export function unaryMessage(body: Buffer, encoding: string | undefined, maxBytes: number): Buffer {
  if (body.length < 5) throw new FrameError(GrpcCode.INTERNAL, body.length === 0 ? 'the request has no message' : 'truncated gRPC message frame');
  const flag = body[0];
  const length = body.readUInt32BE(1);
  if (length > maxBytes) throw new FrameError(GrpcCode.RESOURCE_EXHAUSTED, `received message larger than max (${length} vs. ${maxBytes})`);
  if (body.length < 5 + length) throw new FrameError(GrpcCode.INTERNAL, 'truncated gRPC message frame');
  if (body.length > 5 + length) throw new FrameError(GrpcCode.UNIMPLEMENTED, 'a unary method takes exactly one request message');
  const payload = body.subarray(5);
  if (flag === 0) return payload;
  if (flag !== 1) throw new FrameError(GrpcCode.INTERNAL, `invalid gRPC message flag ${flag}`);
  const opts = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip') return zlib.gunzipSync(payload, opts);
    if (encoding === 'deflate') return zlib.inflateSync(payload, opts);
  } catch (err) {
    const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new FrameError(tooLarge ? GrpcCode.RESOURCE_EXHAUSTED : GrpcCode.INTERNAL, tooLarge ? `decompressed message larger than max (${maxBytes})` : `cannot decompress the message (${encoding}): ${(err as Error).message}`);
  }
  throw new FrameError(GrpcCode.INTERNAL, `compressed message but grpc-encoding is ${encoding ?? 'absent'}`);
}
