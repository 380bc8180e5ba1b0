import type { Command } from 'commander';
import { CliError, EXIT } from './admin-client.js';
import { resolveTracingConfig, TracingConfigError } from '../telemetry/tracing-config.js';

/** `--otlp-endpoint`, the same on every long-running command that emits spans. */
export function addOtlpFlag(cmd: Command): Command {
  return cmd.option(
    '--otlp-endpoint <url>',
    "send Banyan's own trace spans over OTLP/HTTP (protobuf) to this collector, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; neither: tracing off)",
  );
}

/**
 * The flag checked before anything starts, so a typo is a usage error rather than a server that
 * starts and silently exports nothing. Only the resolution is loaded (not @opentelemetry/api), so a
 * command with tracing off pays nothing for it.
 */
export async function otlpEndpointFromFlag(o: { otlpEndpoint?: string }): Promise<string | undefined> {
  try {
    resolveTracingConfig({ endpoint: o.otlpEndpoint });
  } catch (err) {
    if (err instanceof TracingConfigError) throw new CliError(`--otlp-endpoint / OTEL_EXPORTER_OTLP_*: ${err.message}`, EXIT.usage);
    throw err;
  }
  return o.otlpEndpoint;
}
