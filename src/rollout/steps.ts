/**
 * Parsing of the CLI's rollout shape: `--steps 5,10,25,50,100`, `--step 10 --max 50`, `--interval 10m`.
 * The rules themselves are config/steps.ts's (the `rollouts:` YAML section uses the same); here they
 * become RolloutError `bad-input`.
 */
import { stepRangeProblem, stepsInRange, stepsProblem } from '../config/steps.js';
import { RolloutError } from './errors.js';

/** Checks a step list: whole percentages in 1..100, strictly increasing. */
export function validateSteps(steps: readonly number[]): number[] {
  const problem = stepsProblem(steps);
  if (problem) throw new RolloutError('bad-input', problem.message);
  return [...steps];
}

/** `5,10,25,50,100` → [5, 10, 25, 50, 100]. */
export function parseSteps(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim().replace(/%$/, ''));
  return validateSteps(
    parts.map((s) => {
      const n = s === '' ? NaN : Number(s);
      if (!Number.isFinite(n)) throw new RolloutError('bad-input', `--steps: '${s}' is not a number (expected e.g. 5,10,25,50,100)`);
      return n;
    }),
  );
}

/** `--step 10 --max 50` → [10, 20, 30, 40, 50]; a max that is not a multiple of step is the last step. */
export function stepsFrom(step: number, max = 100): number[] {
  const problem = stepRangeProblem(step, max);
  if (problem) throw new RolloutError('bad-input', problem.message);
  return stepsInRange(step, max);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `10m`, `30s`, `1h30m`, `500ms` → milliseconds (> 0). `what` names the flag in the message. */
export function parseInterval(text: string, what = '--interval'): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    end = re.lastIndex;
  }
  if (text === '' || end !== text.length) throw new RolloutError('bad-input', `${what} '${text}' is not a duration (e.g. 30s, 10m, 1h30m)`);
  if (total <= 0) throw new RolloutError('bad-input', `${what} must be longer than zero`);
  return Math.round(total);
}
