/**
 * Vitest global setup: provision the system servers the suite runs (see support/provision.ts) once,
 * before any worker starts, and publish their absolute paths to the workers through the environment.
 */
import { MissingToolsError, provision, toolEnvName } from '../support/provision.js';

export default async function setup(): Promise<void> {
  try {
    const found = await provision();
    for (const [command, at] of found) process.env[toolEnvName(command)] = at;
  } catch (err) {
    if (!(err instanceof MissingToolsError)) throw err;
    // One line and a non-zero exit: the stack of a global setup says nothing the message doesn't.
    process.stderr.write(`\n${err.message}\n`);
    process.exit(2);
  }
}
