import type { Logger } from 'pino';
import type { WebhookClient } from '../rollout/runner.js';
import { askGate, deliver } from '../rollout/webhooks.js';

/** Webhooks as `banyan serve` calls them: secrets from this process's environment, never from the store. */
export function webhookClient(log: Logger, env: Record<string, string | undefined> = process.env): WebhookClient {
  const opts = { env, logger: log.child({ component: 'webhooks' }) };
  return {
    deliver: (spec, delivery) => deliver(spec, delivery, opts),
    askGate: (spec, delivery) => askGate(spec, delivery, opts),
  };
}
