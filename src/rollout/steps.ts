/** Parsing of the CLI's rollout shape: `--steps 5,10,25,50,100`, `--step 10 --max 50`, `--interval 10m`. */
import { RolloutError } from './errors.js';

/** Checks a step list: whole percentages in 1..100, strictly increasing. */
export function validateSteps(steps: readonly number[]): number[] {
  if (steps.length === 0) throw new RolloutError('bad-input', 'a rollout needs at least one step');
  steps.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 1 || p > 100) throw new RolloutError('bad-input', `step ${i + 1} is ${p}; steps are whole percentages from 1 to 100`);
    if (i > 0 && p <= steps[i - 1]) throw new RolloutError('bad-input', `steps must increase: ${steps[i - 1]} is followed by ${p}`);
  });
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
  if (!Number.isInteger(step) || step < 1 || step > 100) throw new RolloutError('bad-input', `--step is ${step}; it must be a whole percentage from 1 to 100`);
  if (!Number.isInteger(max) || max < step || max > 100) throw new RolloutError('bad-input', `--max is ${max}; it must be a whole percentage from --step (${step}) to 100`);
  const steps: number[] = [];
  for (let p = step; p < max; p += step) steps.push(p);
  steps.push(max);
  return steps;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `10m`, `30s`, `1h30m`, `500ms` → milliseconds (> 0). */
export function parseInterval(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    end = re.lastIndex;
  }
  if (text === '' || end !== text.length) throw new RolloutError('bad-input', `--interval '${text}' is not a duration (e.g. 30s, 10m, 1h30m)`);
  if (total <= 0) throw new RolloutError('bad-input', `--interval must be longer than zero`);
  return Math.round(total);
}
