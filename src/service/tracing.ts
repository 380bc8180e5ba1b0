import type { Logger } from '../telemetry/logger.js';
import { startTracing, stopTracing } from '../telemetry/tracing.js';
import type { ServiceStack } from './stack.js';

/**
 * Turns tracing on for a long-running command when an endpoint is configured (flag or OTEL_*), as
 * the first part of its stack: stacks stop in reverse, so the exporter is flushed after every other
 * part has stopped and the spans of the last change and of shutdown still go out.
 */
export async function startTracingIn(stack: ServiceStack, log: Logger, endpoint?: string): Promise<boolean> {
  const config = await startTracing({ endpoint });
  if (config.tracesUrl === undefined) return false;
  // A collector that is down loses the last spans; that is worth a warning, not an unclean stop.
  stack.add('tracing', () => stopTracing().catch((err: Error) => log.warn({ err: err.message }, 'tracing stopped; the last spans were not delivered')));
  log.info({ endpoint: config.tracesUrl, serviceName: config.serviceName }, 'tracing: spans exported over OTLP/HTTP');
  return true;
}
