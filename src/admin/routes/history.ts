/** Applied config versions: history with short diffs, one version, diff between two, rollback, audit. */
import { z } from 'zod';
import type { HistoryOperations } from '../operations.js';
import { HttpError, type RequestContext, type Router } from '../router.js';
import { actorFor } from '../auth.js';
import { author, intParam, parseBody } from './body.js';
import { guard } from './errors.js';

const DEFAULT_LIMIT = 20;

export function mountHistoryRoutes(router: Router, ops: HistoryOperations): void {
  router.get(
    '/api/v1/history',
    guard(async ({ url }) => {
      const limit = url.searchParams.has('limit') ? intParam(url.searchParams.get('limit'), 'limit') : DEFAULT_LIMIT;
      return { versions: await ops.history(limit) };
    }),
  );

  router.get(
    '/api/v1/history/:version',
    guard((ctx) => ops.version(intParam(ctx.params.version, 'version'))),
  );

  router.get(
    '/api/v1/diff',
    guard(async ({ url }) => {
      const from = intParam(url.searchParams.get('from'), 'from');
      const to = intParam(url.searchParams.get('to'), 'to');
      return ops.diffVersions(from, to, url.searchParams.get('level') === 'xds' ? 'xds' : 'config');
    }),
  );

  router.post(
    '/api/v1/rollback',
    guard(async (ctx: RequestContext) => {
      const body = await parseBody(ctx, z.object({ version: z.number().int().positive(), author, message: z.string().default('') }));
      const version = await ops.rollback(body.version, { author: actorFor(ctx.principal, body.author), message: body.message });
      return { version, rolledBackTo: body.version };
    }),
  );

  router.get(
    '/api/v1/audit',
    guard(async ({ url }) => {
      const limit = url.searchParams.has('limit') ? intParam(url.searchParams.get('limit'), 'limit') : 50;
      const sinceText = url.searchParams.get('since');
      const since = sinceText ? Date.parse(sinceText) || Number(sinceText) : undefined;
      if (sinceText && !Number.isFinite(since)) throw new HttpError(400, `since must be an ISO time or epoch milliseconds, got '${sinceText}'`);
      return { entries: await ops.audit({ limit, since }) };
    }),
  );
}
