/**
 * Rollout webhooks: notifications (pre-step, post-step, promotion, rollback) delivered with retries,
 * and gates asked once per call while a step is held.
 *
 * **Request.** `POST <url>` with the JSON body `{"id": <delivery id>, "event": <event>, "rollout": <payload>}`
 * and the headers
 *   - `Content-Type: application/json`
 *   - `User-Agent: banyan/<version>`
 *   - `X-Banyan-Event: <event>`
 *   - `X-Banyan-Delivery: <delivery id>` — the same on every retry and from every replica: receivers
 *     deduplicate on it
 *   - `X-Banyan-Timestamp: <unix seconds>` — when this attempt was sent
 *   - `X-Banyan-Signature: sha256=<hex>` — only when the webhook names a `secretEnv`
 *
 * **Signature.** `sha256=` + lowercase hex of HMAC-SHA256, keyed with the secret, over
 * `<X-Banyan-Timestamp>.<raw body>` (the timestamp's decimal digits, a full stop, the body bytes
 * exactly as sent). Receivers recompute it, compare in constant time, and refuse timestamps too far
 * from their clock so a captured request cannot be replayed later: verifySignature() does all three.
 * A webhook whose `secretEnv` names an unset variable is never sent unsigned: delivery fails.
 *
 * **Retries** (deliver): network errors, per-attempt timeouts, 5xx and 429 are retried up to
 * `retries` times; other answers (3xx — redirects are not followed —, 4xx) are final. Between
 * attempts: exponential backoff with full jitter (random in [0, min(10 s, 250 ms · 2^(n-1))]), or the
 * answer's `Retry-After` (seconds or an HTTP date), capped at 10 s.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookEvent, WebhookSpec } from '../config/model.js';
import type { WebhookDelivery } from '../store/types.js';
import type { Logger } from '../telemetry/logger.js';
import { banyanVersion } from '../version.js';

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 10_000;
/** The longest a `Retry-After` is honoured for; longer asks wait this long. */
export const RETRY_AFTER_CAP_MS = 10_000;
/** How much of an answer's body a failure quotes. */
const SNIPPET_CHARS = 200;

export interface WebhookOptions {
  /** Where `secretEnv` is looked up (normally process.env). */
  env: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
  logger: Logger;
  /** Waits between attempts; tests inject one that records the durations. */
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter. */
  random?: () => number;
  /** Epoch milliseconds: the X-Banyan-Timestamp. */
  now?: () => number;
}

export interface DeliveryResult {
  ok: boolean;
  /** The last answer's HTTP status, if there was an answer. */
  status?: number;
  /** Requests sent (0 when nothing could be sent, e.g. a missing secret). */
  attempts: number;
  error?: string;
}

export type GateAnswer = { open: true; status: number } | { open: false; reason: string; status?: number };

/** `sha256=<hex>`: HMAC-SHA256 keyed with `secret` over `${timestamp}.${body}`. */
export function signPayload(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : rec[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * For receivers (and tests): true when `X-Banyan-Signature` is `body`'s signature under `secret`
 * (compared in constant time) and `X-Banyan-Timestamp` is within `toleranceSec` of `nowSec`.
 */
export function verifySignature(secret: string, headers: HeaderSource, body: string, toleranceSec = 300, nowSec = Date.now() / 1000): boolean {
  const timestamp = header(headers, 'x-banyan-timestamp');
  const signature = header(headers, 'x-banyan-signature');
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSec - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export const userAgent = (): string => `banyan/${banyanVersion()}`;

/** The request body: the same bytes on every attempt. */
export function webhookBody(delivery: WebhookDelivery): string {
  return JSON.stringify({ id: delivery.id, event: delivery.event, rollout: delivery.payload });
}

type Prepared = { ok: true; body: string; headers: (nowMs: number) => Record<string, string> } | { ok: false; error: string };

function prepare(spec: WebhookSpec, delivery: WebhookDelivery, env: Record<string, string | undefined>): Prepared {
  let secret: string | undefined;
  if (spec.secretEnv !== undefined) {
    secret = env[spec.secretEnv];
    if (!secret) {
      return { ok: false, error: `webhook ${spec.name}: its secret variable ${spec.secretEnv} is not set (or empty) in Banyan's environment; nothing was sent (never unsigned)` };
    }
  }
  const body = webhookBody(delivery);
  const event: WebhookEvent = delivery.event;
  return {
    ok: true,
    body,
    headers: (nowMs) => {
      const timestamp = String(Math.floor(nowMs / 1000));
      const h: Record<string, string> = {
        'Content-Type': 'application/json',
        'User-Agent': userAgent(),
        'X-Banyan-Event': event,
        'X-Banyan-Delivery': delivery.id,
        'X-Banyan-Timestamp': timestamp,
      };
      if (secret !== undefined) h['X-Banyan-Signature'] = signPayload(secret, timestamp, body);
      return h;
    },
  };
}

type Attempt =
  | { kind: 'answer'; status: number; snippet: string; retryAfterMs?: number }
  | { kind: 'timeout'; error: string }
  | { kind: 'network'; error: string };

/** Reads at most enough of the body for a snippet, then lets the rest go. */
async function snippet(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < SNIPPET_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // a body cut short still leaves what was read
  } finally {
    reader.cancel().catch(() => {});
  }
  return text.slice(0, SNIPPET_CHARS).trim();
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return cause?.message ?? e?.message ?? String(err);
}

async function attempt(spec: WebhookSpec, prepared: Extract<Prepared, { ok: true }>, fetchFn: typeof globalThis.fetch, nowMs: number): Promise<Attempt> {
  try {
    const res = await fetchFn(spec.url, {
      method: 'POST',
      headers: prepared.headers(nowMs),
      body: prepared.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(spec.timeoutMs),
    });
    return { kind: 'answer', status: res.status, snippet: await snippet(res), retryAfterMs: retryAfterMs(res.headers.get('retry-after'), nowMs) };
  } catch (err) {
    const name = (err as { name?: string })?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout', error: `no answer within ${spec.timeoutMs}ms` };
    return { kind: 'network', error: describeError(err) };
  }
}

const ok2xx = (status: number) => status >= 200 && status <= 299;
const retryable = (a: Attempt) => a.kind !== 'answer' || a.status >= 500 || a.status === 429;

function failure(a: Attempt): string {
  if (a.kind !== 'answer') return a.error;
  return `HTTP ${a.status}${a.snippet ? `: ${a.snippet}` : ''}`;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Delivers one notification: up to 1 + `spec.retries` attempts (see the file comment for what is
 * retried and how long it waits). Never throws: the result says whether the receiver took it.
 */
export async function deliver(spec: WebhookSpec, delivery: WebhookDelivery, opts: WebhookOptions): Promise<DeliveryResult> {
  const prepared = prepare(spec, delivery, opts.env);
  if (!prepared.ok) {
    opts.logger.error({ webhook: spec.name, delivery: delivery.id, event: delivery.event }, prepared.error);
    return { ok: false, attempts: 0, error: prepared.error };
  }
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const maxAttempts = 1 + Math.max(0, spec.retries);
  for (let n = 1; ; n++) {
    const a = await attempt(spec, prepared, fetchFn, now());
    if (a.kind === 'answer' && ok2xx(a.status)) return { ok: true, status: a.status, attempts: n };
    const status = a.kind === 'answer' ? a.status : undefined;
    const error = `webhook ${spec.name} (${delivery.event}, delivery ${delivery.id}) attempt ${n}/${maxAttempts}: ${failure(a)}`;
    if (!retryable(a) || n >= maxAttempts) {
      opts.logger.warn({ webhook: spec.name, delivery: delivery.id, event: delivery.event, attempts: n, status }, error);
      return { ok: false, status, attempts: n, error };
    }
    const backoff = random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (n - 1));
    const wait = a.kind === 'answer' && a.retryAfterMs !== undefined ? Math.min(RETRY_AFTER_CAP_MS, a.retryAfterMs) : backoff;
    opts.logger.info({ webhook: spec.name, delivery: delivery.id, event: delivery.event, attempt: n, status, retryInMs: Math.round(wait) }, `${error}; retrying`);
    await sleep(wait);
  }
}

/**
 * Asks a gate once (one request, `spec.timeoutMs`): open on 2xx; closed on anything else, with a
 * reason naming the status (and the first 200 characters of the answer) or the error. The runner
 * asks again while the step is held; this never retries or throws.
 */
export async function askGate(spec: WebhookSpec, delivery: WebhookDelivery, opts: WebhookOptions): Promise<GateAnswer> {
  const prepared = prepare(spec, delivery, opts.env);
  if (!prepared.ok) return { open: false, reason: prepared.error };
  const a = await attempt(spec, prepared, opts.fetch ?? globalThis.fetch, (opts.now ?? Date.now)());
  if (a.kind === 'answer' && ok2xx(a.status)) return { open: true, status: a.status };
  const reason = `gate ${spec.name} closed: ${failure(a)}`;
  opts.logger.debug({ webhook: spec.name, delivery: delivery.id, event: delivery.event }, reason);
  return a.kind === 'answer' ? { open: false, reason, status: a.status } : { open: false, reason };
}
