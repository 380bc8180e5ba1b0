/**
 * The gate between compile and publish, and the same code behind `banyan validate`: a config is
 * admitted only if every proxy group's snapshot can be delivered exactly as compiled and accepted by
 * the clients that group serves. Pure: no I/O, no clocks; the only state is a memo of verdicts.
 */
import { hasErrors, type Diagnostic } from '../config/diagnostics.js';
import { loadConfigFromFiles, type LoadResult } from '../config/load.js';
import type { Config, SourcePos } from '../config/model.js';
import type { SourceFile } from '../config/source.js';
import { isCaSecret } from '../config/tls.js';
import { compile, type CompileOptions } from '../compile/index.js';
import type { CompiledSnapshot } from '../compile/types.js';
import { loadEnvoyProtos } from '../proto/envoy.js';
import type { WireForms } from '../proto/wire-form.js';
import { inSpan } from '../telemetry/tracing.js';
import { grpcCapabilityDiagnostics } from './grpc.js';
import { rateLimitConsumerDiagnostics } from './ratelimit.js';
import { ResourceAdmission } from './resources.js';

export interface AdmissionResult {
  /** Set only when nothing is an error. */
  snapshot?: CompiledSnapshot;
  /** Capability errors, compile warnings and resource findings, positioned. */
  diagnostics: Diagnostic[];
  /** Every admitted resource's JSON and bytes, for the xDS cache to serve without encoding again. */
  wire?: WireForms;
}

export class Admission {
  private readonly resources = new ResourceAdmission();

  constructor() {
    // The protos are read here, once, so that compile() and the checks never do I/O mid-admission.
    loadEnvoyProtos();
  }

  /**
   * Compiles `config` (with `compileOptions`, e.g. which clusters report load) and admits the result.
   * `fallback` positions findings that no YAML element produced (it should name the config's first file).
   */
  admit(config: Config, fallback: SourcePos, compileOptions: CompileOptions = {}): AdmissionResult {
    const diagnostics = [...grpcCapabilityDiagnostics(config), ...rateLimitConsumerDiagnostics(config), ...unreadSecrets(config)];
    let snapshot: CompiledSnapshot;
    try {
      // Spans only inside a traced change (inSpan): `banyan validate` and tests stay untraced.
      snapshot = inSpan('banyan.config.compile', {}, (span) => {
        const compiled = compile(config, compileOptions);
        span.setAttribute('banyan.groups', compiled.groups.size);
        return compiled;
      });
    } catch (err) {
      // A compiler exception is a Banyan bug, but still the operator's config must not go out.
      diagnostics.push({ severity: 'error', ...fallback, message: `internal error while compiling: ${err instanceof Error ? err.message : String(err)}` });
      return { diagnostics };
    }
    return inSpan('banyan.config.admission', {}, (span) => {
      const checked = this.resources.check(config, snapshot, fallback);
      diagnostics.push(...snapshot.warnings, ...checked.diagnostics);
      const refused = hasErrors(diagnostics);
      span.setAttributes({ 'banyan.admission.admitted': !refused, 'banyan.admission.errors': diagnostics.filter((d) => d.severity === 'error').length });
      return refused ? { diagnostics } : { snapshot, diagnostics, wire: checked.wire };
    });
  }
}

/**
 * A secret whose files were not read (a loader without readFile) would reach Envoy empty, and Envoy
 * would then refuse every handshake on the listener: never published.
 */
function unreadSecrets(config: Config): Diagnostic[] {
  return (config.secrets ?? [])
    .filter((s) => !s.material && !isCaSecret(s))
    .map((s) => ({ severity: 'error' as const, ...s.pos, message: `secret "${s.name}" has no content: its files were not read (load the config with readFile, as serve and validate do)` }));
}

/** Where findings without a YAML origin are reported: the start of the first file. */
export function firstFilePos(files: readonly { file: string }[]): SourcePos {
  return { file: files[0]?.file ?? '<config>', line: 1, col: 1 };
}

/**
 * `banyan validate`'s whole judgement over files: load, then admission, as serve does (serve lays
 * runtime overrides between the two). The config comes back only when nothing is an error.
 */
export function validateLoaded(result: LoadResult, admission = new Admission()): LoadResult & { snapshot?: CompiledSnapshot } {
  if (!result.config) return result;
  const admitted = admission.admit(result.config, firstFilePos(result.files.map((file) => ({ file }))));
  const diagnostics = [...result.diagnostics, ...admitted.diagnostics];
  return admitted.snapshot ? { ...result, diagnostics, snapshot: admitted.snapshot } : { diagnostics, files: result.files };
}

export function validateFiles(files: readonly SourceFile[], admission = new Admission()): LoadResult & { snapshot?: CompiledSnapshot } {
  return validateLoaded(loadConfigFromFiles(files), admission);
}
