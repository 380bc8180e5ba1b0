/**
 * The bench's Go helpers (bench/go/<module>), built from the Go module proxy by the suite's builder
 * (test/support/go.ts): once per content of the module, cached next to the suite's binaries.
 */
import { goModuleBinary } from '../../test/support/go.js';

/** The path of the built binary of bench/go/<module>; builds it when missing (go's output on failure). */
export function benchGoBinary(module: string, timeoutMs = 600_000): Promise<string> {
  return goModuleBinary(`bench/go/${module}`, `bench-${module}`, '.', timeoutMs);
}
