/**
 * A finding about operator input, always tied to a place in a file. Only errors reject a config;
 * warnings point at likely mistakes; info states a consequence worth knowing (e.g. how many routes a
 * listener's authz puts behind a token).
 */
export interface Diagnostic {
  severity: 'error' | 'warning' | 'info';
  file: string;
  /** 1-based line and column of the offending node. */
  line: number;
  col: number;
  message: string;
  /** Dotted path inside the document, e.g. "listeners[0].hosts[1].routes[2].to". */
  path?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`;
  return `${where}: ${d.severity}: ${d.message}${d.path ? ` (at ${d.path})` : ''}`;
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** Thrown when input is rejected; carries every diagnostic, not just the first. */
export class ConfigError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n') || 'invalid config');
    this.name = 'ConfigError';
  }
}
