import { Option, type Command } from 'commander';
import { formatDiagnostic } from '../../config/diagnostics.js';
import { loadConfig, type LoadResult } from '../../config/load.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('Check a route YAML file or directory exactly as serve would: schema, references, Envoy\'s own rules, gRPC client capabilities')
    .argument('<path>', 'YAML file or directory of YAML files')
    .addOption(new Option('--output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', '\nExit status: 0 when valid (warnings allowed), 1 on any error.')
    .action(async (path: string, o: { output: string }) => {
      const result = await admitted(await loadConfig(path));
      const summary = summarize(result);
      if (o.output === 'json') {
        process.stdout.write(`${JSON.stringify({ valid: summary.errors === 0, files: result.files, summary, diagnostics: result.diagnostics }, null, 2)}\n`);
      } else {
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
