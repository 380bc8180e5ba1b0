import type { Command } from 'commander';
import { register as bootstrap } from './bootstrap.js';
import { register as proxies } from './proxies.js';
import { register as routes } from './routes.js';
import { register as shift } from './shift.js';
import { register as history } from './history.js';
import { register as audit } from './audit.js';
import { register as diff } from './diff.js';
import { register as apply } from './apply.js';
import { register as rollback } from './rollback.js';
import { register as status } from './status.js';
import { register as rollout } from './rollout.js';
import { register as serve } from './serve.js';
import { register as validate } from './validate.js';
import { register as schema } from './schema.js';
import { register as authz } from './authz.js';
import { register as ratelimit } from './ratelimit.js';
import { register as xds } from './xds.js';
import { register as certs } from './certs.js';

/**
 * Every subcommand lives in its own module under src/cli/commands/ and exports `register(program)`.
 * Add one import and one call here per module.
 */
export function registerCommands(program: Command): void {
  bootstrap(program);
  proxies(program);
  routes(program);
  shift(program);
  history(program);
  audit(program);
  diff(program);
  apply(program);
  rollback(program);
  status(program);
  rollout(program);
  serve(program);
  validate(program);
  schema(program);
  authz(program);
  ratelimit(program);
  xds(program);
  certs(program);
}
