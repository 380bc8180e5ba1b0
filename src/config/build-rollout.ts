import type { Reference, RolloutSite } from './fragment.js';
import type { RolloutSpec } from './model.js';
import { analysisWithDefaults, ROLLOUT_DEFAULTS, webhookWithDefaults } from './rollout-spec.js';
import { checkInputOf, type RolloutInput } from './schema-rollout.js';
import { stepsInRange } from './steps.js';
import { formatPath, type Locator, type PathSegment } from './yaml.js';

/**
 * A validated `rollouts:` entry as the model keeps it, fully defaulted (rollout-spec.ts's defaults,
 * the same the admin API applies), with where its keys are for the checks that need the whole
 * config (rollouts.ts) and its `to` as a cluster reference.
 */
export function buildRollout(input: RolloutInput, path: PathSegment[], locator: Locator, references: Reference[]): RolloutSite {
  const intervalMs = input.interval;
  const spec: RolloutSpec = {
    name: input.name,
    route: input.route,
    to: input.to,
    steps: input.steps ? [...input.steps] : stepsInRange(input.step!, input.max),
    intervalMs,
    allowDecrease: input.allowDecrease ?? ROLLOUT_DEFAULTS.allowDecrease,
    ackTimeoutMs: input.ackTimeout ?? ROLLOUT_DEFAULTS.ackTimeoutMs,
    ...(input.analysis
      ? {
          analysis: analysisWithDefaults(
            {
              checks: input.analysis.checks.map((c) => checkInputOf(c)!.input),
              ...(input.analysis.interval !== undefined ? { intervalMs: input.analysis.interval } : {}),
              ...(input.analysis.failureLimit !== undefined ? { failureLimit: input.analysis.failureLimit } : {}),
              ...(input.analysis.onFailure !== undefined ? { onFailure: input.analysis.onFailure } : {}),
            },
            intervalMs,
          ),
        }
      : {}),
    webhooks: (input.webhooks ?? []).map(({ timeout, ...w }) => webhookWithDefaults({ ...w, ...(timeout !== undefined ? { timeoutMs: timeout } : {}) })),
    pos: locator.pos(path),
  };
  const toPath = [...path, 'to'];
  references.push({ kind: 'cluster', name: input.to, from: `rollout "${input.name}"`, pos: locator.pos(toPath), path: formatPath(toPath) });
  return { spec, name: locator.pos([...path, 'name']), route: locator.pos([...path, 'route']), to: locator.pos(toPath) };
}
