#!/usr/bin/env node
// The CLI runs from the compiled output; `npm run build` produces dist/.
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`banyan: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err && typeof err.exitCode === 'number' ? err.exitCode : 1);
});
