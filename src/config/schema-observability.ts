import { z } from 'zod';
import { hostPort, headerName, name, refineWith } from './schema-common.js';

/**
 * A listener's observability keys (`tracing:`, `requestId:`, and the object form of `accessLog:`),
 * spread into the listener schema. Compiled by src/compile/observability.ts.
 */

/**
 * `%COMMAND%`, `%REQ(X-HEADER?ALT):N%`, `%START_TIME(%Y-%m-%dT%H:%M:%S)%`: the shape of every Envoy
 * substitution command (a start time's strftime pattern has `%` of its own, inside the parentheses).
 */
const COMMAND = /%[A-Z][A-Z0-9_]*(\([^()]*\))?(:[0-9]+)?%/g;

/** Envoy refuses a listener whose format string holds a malformed `%COMMAND%`: refused here, at the YAML. */
export function formatProblem(v: string): string | undefined {
  if (/[\u0000-\u0008\u000b-\u001f]/.test(v)) return 'an access log format has no control characters';
  const rest = v.replace(COMMAND, '');
  const at = rest.indexOf('%');
  if (at < 0) return undefined;
  const token = /^%[^%\s]*%?/.exec(rest.slice(at))![0];
  return `"${token}" is not an Envoy command: commands are written %COMMAND% in capitals (e.g. %RESPONSE_CODE%, %REQ(X-REQUEST-ID)%, %TRACE_ID%)`;
}
const formatString = z.string().min(1).superRefine(refineWith(formatProblem));

const accessLogObject = z
  .strictObject({
    format: z.enum(['text', 'json']).optional().meta({ description: 'json (default): one JSON object per request, with trace ids; text: Envoy format string' }),
    path: z
      .string()
      .refine((p) => p.startsWith('/'), { message: 'an access log path is absolute (/dev/stdout, /dev/stderr or a file)' })
      .optional()
      .meta({ description: '/dev/stdout (default), /dev/stderr, or a file on the proxy' }),
    fields: z
      .record(z.string().min(1), z.union([formatString, z.null()]))
      .optional()
      .meta({ description: 'json: fields added to (or replacing) the default ones, as Envoy commands; null drops a default field' }),
    text: formatString.optional().meta({ description: "text: the format string (default: Envoy's default line)" }),
  })
  .superRefine((v, ctx) => {
    const format = v.format ?? 'json';
    if (format === 'json' && v.text !== undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: '"text" is for format: text; a JSON log takes "fields"', input: v.text });
    if (format === 'text' && v.fields !== undefined) ctx.addIssue({ code: 'custom', path: ['fields'], message: '"fields" is for format: json; a text log takes "text"', input: v.fields });
  });

export const accessLogSetting = z
  .union([z.boolean(), accessLogObject])
  .meta({ description: "true: Envoy's default line on stdout; or {format: json|text, path, fields, text}" });

const percent = z.number().min(0).max(100);

const customTag = z.union([
  z.strictObject({ literal: z.string() }),
  z.strictObject({ header: headerName, default: z.string().optional() }),
  z.strictObject({ environment: z.string().min(1), default: z.string().optional() }),
]);

export const tracingSetting = z
  .strictObject({
    collector: hostPort.meta({ description: 'OpenTelemetry collector (OTLP/gRPC), host:port' }),
    serviceName: name.optional().meta({ description: "service.name of Envoy's spans (default: the listener's name)" }),
    sampling: z
      .strictObject({
        random: percent.optional().meta({ description: 'Percent of requests traced (default 100)' }),
        client: percent.optional().meta({ description: 'Percent of requests with x-client-trace-id traced (default 100)' }),
        overall: percent.optional().meta({ description: 'Cap on all traced requests, after the others (default 100)' }),
      })
      .optional(),
    customTags: z.record(z.string().min(1), customTag).optional().meta({ description: 'Span tags: {literal: v} | {header: name, default} | {environment: VAR, default}' }),
  });

export const requestIdSetting = z.strictObject({
  generate: z.boolean().optional().meta({ description: 'Set x-request-id on requests without one (default true)' }),
  preserveExternal: z.boolean().optional().meta({ description: "Keep a client's x-request-id (default false: an edge replaces it)" }),
  inResponse: z.boolean().optional().meta({ description: 'Return x-request-id in every response (default false)' }),
  forTraceSampling: z.boolean().optional().meta({ description: 'Sample traces by the request id, so one id is traced on every hop (default true)' }),
});

/** Spread into the listener schema. */
export const observabilityKeys = {
  accessLog: accessLogSetting.optional(),
  tracing: tracingSetting.optional().meta({ description: 'OpenTelemetry tracing of this listener (Envoy, socket listeners)' }),
  requestId: requestIdSetting.optional().meta({ description: 'x-request-id generation (UUID request id extension)' }),
};
