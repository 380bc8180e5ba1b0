/**
 * Declarative rollouts: what the `rollouts:` section of the YAML asks for, against what the store
 * holds. The spec is the desired rollout; its progress lives in the store. Each spec, by its hash,
 * is run once: a rollout that completed, was aborted or rolled back is not started again until the
 * spec changes. Editing a spec's steps, interval, analysis or webhooks updates the running rollout
 * from its current percent; changing its route or target aborts it (back to its starting weights)
 * and starts the new one; removing the spec aborts its rollout. Pure planning: the runner acts.
 */
import { createHash } from 'node:crypto';
import type { RolloutSpec } from '../config/model.js';
import type { Rollout } from '../store/types.js';

export type SpecAction =
  | { kind: 'start'; spec: RolloutSpec; specHash: string }
  | { kind: 'update'; rollout: Rollout; spec: RolloutSpec; specHash: string }
  | { kind: 'replace'; rollout: Rollout; spec: RolloutSpec; specHash: string; reason: string }
  | { kind: 'abort'; rollout: Rollout; reason: string };

/** Hash of what a spec asks for (not where it is written), so moving it in the file changes nothing. */
export function specHash(spec: RolloutSpec): string {
  const { pos: _pos, ...rest } = spec;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

/** `rollouts`: the active rollouts and the recent ended ones (enough to know which spec hashes ran). */
export function planSpecs(specs: readonly RolloutSpec[], rollouts: readonly Rollout[]): SpecAction[] {
  const actions: SpecAction[] = [];
  const fileOwned = (r: Rollout) => (r.owner?.kind === 'file' ? r.owner : undefined);
  const active = (r: Rollout) => r.state === 'running' || r.state === 'paused';
  for (const spec of specs) {
    const hash = specHash(spec);
    const mine = rollouts.filter((r) => fileOwned(r)?.spec === spec.name);
    const running = mine.find(active);
    if (running) {
      const owner = fileOwned(running)!;
      if (owner.specHash === hash) continue;
      if (running.route !== spec.route || running.toBackend !== spec.to) {
        actions.push({ kind: 'replace', rollout: running, spec, specHash: hash, reason: `spec '${spec.name}' now rolls out ${spec.route} to ${spec.to}` });
      } else actions.push({ kind: 'update', rollout: running, spec, specHash: hash });
      continue;
    }
    if (mine.some((r) => fileOwned(r)?.specHash === hash)) continue; // ran already: edit the spec to run it again
    actions.push({ kind: 'start', spec, specHash: hash });
  }
  const names = new Set(specs.map((s) => s.name));
  for (const r of rollouts) {
    const owner = fileOwned(r);
    if (owner && active(r) && !names.has(owner.spec)) actions.push({ kind: 'abort', rollout: r, reason: `spec '${owner.spec}' was removed from the YAML` });
  }
  return actions;
}
