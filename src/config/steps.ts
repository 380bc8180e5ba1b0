/**
 * The rules of a rollout's step list, in one place: the `rollouts:` section of the YAML, the admin
 * API and the CLI (through src/rollout/steps.ts, which throws RolloutError with these words) refuse
 * the same lists the same way. Pure: problems come back as text, the caller decides how to report.
 */

export interface StepsProblem {
  /** Index of the offending step, when one step is to blame. */
  index?: number;
  message: string;
}

/** What is wrong with a step list (whole percentages in 1..100, strictly increasing), or undefined. */
export function stepsProblem(steps: readonly number[]): StepsProblem | undefined {
  if (steps.length === 0) return { message: 'a rollout needs at least one step' };
  for (let i = 0; i < steps.length; i++) {
    const p = steps[i];
    if (!Number.isInteger(p) || p < 1 || p > 100) return { index: i, message: `step ${i + 1} is ${p}; steps are whole percentages from 1 to 100` };
    if (i > 0 && p <= steps[i - 1]) return { index: i, message: `steps must increase: ${steps[i - 1]} is followed by ${p}` };
  }
  return undefined;
}

/** How the two knobs of equal steps are called where they are written: `--step`/`--max` (CLI), `step`/`max` (YAML). */
export interface StepRangeNames {
  step: string;
  max: string;
}

export const CLI_STEP_NAMES: StepRangeNames = { step: '--step', max: '--max' };

/** What is wrong with `step` + `max` (equal steps up to max), or undefined. */
export function stepRangeProblem(step: number, max = 100, names: StepRangeNames = CLI_STEP_NAMES): { key: 'step' | 'max'; message: string } | undefined {
  if (!Number.isInteger(step) || step < 1 || step > 100) return { key: 'step', message: `${names.step} is ${step}; it must be a whole percentage from 1 to 100` };
  if (!Number.isInteger(max) || max < step || max > 100) {
    return { key: 'max', message: `${names.max} is ${max}; it must be a whole percentage from ${names.step} (${step}) to 100` };
  }
  return undefined;
}

/** `step 10, max 50` → [10, 20, 30, 40, 50]; a max that is not a multiple of step is the last step. Expects a valid range (stepRangeProblem). */
export function stepsInRange(step: number, max = 100): number[] {
  const steps: number[] = [];
  for (let p = step; p < max; p += step) steps.push(p);
  steps.push(max);
  return steps;
}
