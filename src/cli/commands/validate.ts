import type { Command } from 'commander';
import { formatDiagnostic } from '../../config/diagnostics.js';
import { loadConfig, type LoadResult } from '../../config/load.js';
import { outputOption, printStructured, type OutputFormat } from '../output.js';

export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .description('Check a route YAML file or directory exactly as serve would: schema, references, Envoy\'s own rules, gRPC client capabilities')
    .argument('<path>', 'YAML file or directory of YAML files');
  outputOption(cmd)
    .addHelpText('after', '\nExit status: 0 when valid (warnings allowed), 1 on any error.\n\nExamples:\n  $ banyan validate routes/\n  $ banyan validate banyan.yaml -o json | jq .diagnostics')
    .action(async (path: string, o: { output?: OutputFormat }) => {
      const result = await admitted(await loadConfig(path));
      const summary = summarize(result);
      if (!printStructured({ valid: summary.errors === 0, files: result.files, summary, diagnostics: result.diagnostics }, o.output)) {
        for (const d of result.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
        process.stdout.write(`${summaryLine(path, summary)}\n`);
      }
      if (summary.errors > 0) process.exitCode = 1;
    });
}

/**
 * The same admission serve runs before anything is stored or pushed (validate ≡ serve): compile, then
 * Envoy's validation rules, the wire round-trip and the gRPC capability rules. Loaded lazily: it
 * brings in the protos.
 */
async function admitted(result: LoadResult): Promise<LoadResult> {
  const { validateLoaded } = await import('../../admission/index.js');
  return validateLoaded(result);
}

interface Summary {
  errors: number;
  warnings: number;
  listeners: number;
  routes: number;
  clusters: number;
}

function summarize(result: LoadResult): Summary {
  const c = result.config;
  return {
    errors: result.diagnostics.filter((d) => d.severity === 'error').length,
    warnings: result.diagnostics.filter((d) => d.severity === 'warning').length,
    listeners: c?.listeners.length ?? 0,
    routes: c?.listeners.reduce((n, l) => n + l.hosts.reduce((m, h) => m + h.routes.length, 0), 0) ?? 0,
    clusters: c?.clusters.length ?? 0,
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function summaryLine(path: string, s: Summary): string {
  const findings = `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}`;
  return s.errors > 0
    ? `${path}: invalid (${findings})`
    : `${path}: valid (${plural(s.listeners, 'listener')}, ${plural(s.routes, 'route')}, ${plural(s.clusters, 'cluster')}; ${findings})`;
}
