import type { Diagnostic } from '../config/diagnostics.js';
import type { Config, SourcePos } from '../config/model.js';

/** What every compile module receives: the whole config and a sink for positioned warnings. */
export interface CompileContext {
  config: Config;
  warn(pos: SourcePos, message: string, path?: string): void;
}

export function createContext(config: Config): { ctx: CompileContext; warnings: Diagnostic[] } {
  const warnings: Diagnostic[] = [];
  const seen = new Set<string>();
  const ctx: CompileContext = {
    config,
    warn(pos, message, path) {
      // A listener compiled into several groups must not repeat its warnings once per group.
      const key = `${pos.file}:${pos.line}:${pos.col}:${message}`;
      if (seen.has(key)) return;
      seen.add(key);
      warnings.push({ severity: 'warning', file: pos.file, line: pos.line, col: pos.col, message, ...(path ? { path } : {}) });
    },
  };
  return { ctx, warnings };
}
