import { z } from 'zod';
import { hostProblem, parseHostPort } from './address.js';
import { headerValueProblem, MAX_DURATION_MS, UINT32_MAX } from './bounds.js';
import { DURATION_HINT, durationPrecisionProblem, parseDuration, parseDurationNanos } from './duration.js';
import { regexProblem } from './regex.js';

/** Marks a custom issue as being about a key's presence, so it is reported at the key, not its value. */
export const AT_KEY = { at: 'key' } as const;
/** Marks a custom issue whose message should be prefixed with the key it is about (`"every": ...`). */
export const WITH_SUBJECT = { subject: true } as const;

/** Runs `problem` on a value and reports its answer as a custom issue at that value. */
export function refineWith<T>(problem: (value: T) => string | undefined) {
  return (value: T, ctx: z.RefinementCtx<T>): void => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message, input: value });
  };
}

/**
 * Keys that exclude each other; `required` also demands one of them. The issue lands on the second key
 * given (that is the one to delete), or on the object when none is.
 */
export function exactlyOne<T extends object>(keys: readonly string[], required = true) {
  return (value: T, ctx: z.RefinementCtx<T>): void => {
    const given = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    if (given.length > 1) {
      ctx.addIssue({ code: 'custom', path: [given[1]], params: AT_KEY, message: `"${given[0]}" and "${given[1]}" are mutually exclusive; give ${required ? 'exactly' : 'at most'} one of ${keys.join(', ')}`, input: value });
    } else if (given.length === 0 && required) {
      ctx.addIssue({ code: 'custom', message: `needs exactly one of ${keys.join(', ')}`, input: value });
    }
  };
}

/** Keys that only make sense alongside one of `with`. */
export function onlyWith<T extends object>(keys: readonly string[], withKeys: readonly string[]) {
  return (value: T, ctx: z.RefinementCtx<T>): void => {
    const v = value as Record<string, unknown>;
    if (withKeys.some((k) => v[k] !== undefined)) return;
    for (const k of keys) {
      if (v[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], params: AT_KEY, message: `"${k}" is only allowed together with ${withKeys.map((w) => `"${w}"`).join(' or ')}`, input: value });
    }
  };
}

/** `2s`, `500ms`, `1.5s`, `1m`, `1h`, `1m30s`, or 0 (disabled). Output: milliseconds. */
export const duration = z
  .union([z.string(), z.number()])
  .superRefine((v, ctx) => {
    if (v === 0) return;
    const ns = typeof v === 'string' ? parseDurationNanos(v) : undefined;
    const bad =
      typeof v === 'number'
        ? `invalid duration ${v}: a unit is required; ${DURATION_HINT}`
        : ns === undefined
          ? `invalid duration "${v}": ${DURATION_HINT}`
          : (durationPrecisionProblem(v) ??
            (ns > BigInt(MAX_DURATION_MS) * 1_000_000n ? `duration "${v}" is longer than protobuf's Duration allows (${MAX_DURATION_MS / 3_600_000}h)` : undefined));
    if (bad) ctx.addIssue({ code: 'custom', message: bad, input: v });
  })
  .transform((v) => (typeof v === 'number' ? 0 : parseDuration(v)!))
  .meta({ description: `Duration: ${DURATION_HINT}` });

/** A duration of at least `minMs` (Envoy rejects zero intervals and timeouts in many places). */
export function durationAtLeast(minMs: number, label = `${minMs}ms`) {
  return duration.refine((ms) => ms >= minMs, { error: `must be at least ${label}`, params: WITH_SUBJECT });
}

export const name = z.string().min(1);

/** An integer that lands in a protobuf uint32 (`min` usually 0 or 1). */
export const uint32 = (min = 0) => z.number().int().min(min).max(UINT32_MAX);

/** Text Envoy puts in a header, authority or path: no NUL, CR or LF. */
export const headerSafe = z.string().superRefine(refineWith(headerValueProblem));

// RFC 9110 token characters: what Envoy accepts as a header name. Matchers may also name
// pseudo-headers (:method, :authority); mutations may not, nor Host.
const TOKEN = /^[0-9A-Za-z!#$%&'*+\-.^_`|~]+$/;
const headerProblem = (v: string) => (TOKEN.test(v) ? undefined : `"${v}" is not a valid HTTP header name`);
export const headerName = z.string().superRefine(refineWith(headerProblem));
export const matchHeaderName = z.string().superRefine(refineWith((v: string) => headerProblem(v.startsWith(':') ? v.slice(1) : v)));
export const mutableHeaderName = z
  .string()
  .superRefine(refineWith((v: string) => (v.toLowerCase() === 'host' || v.startsWith(':') ? `header "${v}" cannot be added or removed by a route; use hostRewrite or a rewrite` : headerProblem(v))));
export const port = z.number().int().min(1).max(65535);
export const regex = z.string().superRefine(refineWith(regexProblem));
export const hostPort = z
  .string()
  .superRefine(refineWith((v: string) => {
    const r = parseHostPort(v);
    return 'error' in r ? r.error : undefined;
  }))
  .meta({ description: 'host:port (IPv6 as [addr]:port)' });
export const host = z.string().superRefine(refineWith(hostProblem));
export const stringOrList = z.union([z.string(), z.array(z.string())]);
/** Header values written as YAML scalars (`x-version: 2`) are strings to Envoy. */
export const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform(String).superRefine(refineWith(headerValueProblem));
export const httpPath = z.string().superRefine(refineWith((v: string) => (v.startsWith('/') ? headerValueProblem(v) : `path "${v}" must start with "/"`)));
