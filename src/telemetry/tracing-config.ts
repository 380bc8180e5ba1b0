/**
 * Where Banyan's spans go, resolved from the flag and the OpenTelemetry spec's environment variables,
 * without loading @opentelemetry/api: a command can find out whether tracing is configured (and
 * refuse a bad endpoint) without paying the API's few MB of RSS when it is not. `banyan ratelimit`
 * is benchmarked on RSS too.
 */

export interface TracingOptions {
  /** OTLP/HTTP base endpoint (e.g. http://collector:4318); the flag wins over the environment. */
  endpoint?: string;
  serviceName?: string;
  env?: NodeJS.ProcessEnv;
}

/** What `startTracing` resolved; undefined endpoint means tracing stays off. */
export interface TracingConfig {
  /** Full URL of the traces endpoint (…/v1/traces). */
  tracesUrl?: string;
  serviceName: string;
}

export class TracingConfigError extends Error {
  override name = 'TracingConfigError';
}

/**
 * The spec's rule: a signal-specific endpoint is used as given; the generic one gets `/v1/traces`
 * appended. Kept pure so the rule is testable without an SDK.
 */
export function resolveTracingConfig(opts: TracingOptions = {}): TracingConfig {
  const env = opts.env ?? process.env;
  const serviceName = opts.serviceName ?? (env.OTEL_SERVICE_NAME || 'banyan');
  let tracesUrl: string | undefined;
  if (opts.endpoint) tracesUrl = withTracesPath(opts.endpoint);
  else if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) tracesUrl = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  else if (env.OTEL_EXPORTER_OTLP_ENDPOINT) tracesUrl = withTracesPath(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (tracesUrl !== undefined) {
    try {
      new URL(tracesUrl);
    } catch {
      throw new TracingConfigError(`OTLP endpoint is not a URL: ${tracesUrl}`);
    }
  }
  return { tracesUrl, serviceName };
}

function withTracesPath(base: string): string {
  return base.replace(/\/+$/, '') + '/v1/traces';
}
