/** Candidate configs: validate (dry run), diff against what is live, and apply as a new version. */
import { z } from 'zod';
import { ConfigRejectedError } from '../../admission/errors.js';
import { formatDiagnostic } from '../../config/diagnostics.js';
import type { CandidateOperations } from '../operations.js';
import type { Router } from '../router.js';
import { actorFor } from '../auth.js';
import { author, files, parseBody } from './body.js';
import { guard, rejected } from './errors.js';

const level = z.enum(['config', 'xds']).default('config');

export function mountConfigOpsRoutes(router: Router, ops: CandidateOperations): void {
  router.post(
    '/api/v1/config/validate',
    guard(async (ctx) => {
      const body = await parseBody(ctx, z.object({ files }));
      const { valid, diagnostics } = await ops.validate(body.files);
      return { valid, diagnostics, messages: diagnostics.map(formatDiagnostic) };
    }),
    { role: 'read', config: true },
  );

  router.post(
    '/api/v1/config/diff',
    guard(async (ctx) => {
      const body = await parseBody(ctx, z.object({ files, level }));
      try {
        return await ops.diff(body.files, body.level);
      } catch (err) {
        // A dry run names what it refused: the candidate, not a change.
        if (err instanceof ConfigRejectedError) throw rejected('candidate config is invalid', err.diagnostics);
        throw err;
      }
    }),
    { role: 'read', config: true },
  );

  router.post(
    '/api/v1/config/apply',
    guard(async (ctx) => {
      const body = await parseBody(ctx, z.object({ files, author, message: z.string().default(''), confirmRemoval: z.boolean().default(false) }));
      const result = await ops.apply(body.files, { author: actorFor(ctx.principal, body.author), message: body.message, confirmRemoval: body.confirmRemoval });
      return {
        version: result.version,
        unchanged: result.unchanged,
        warnings: [...result.warnings.map(formatDiagnostic), ...result.clearedOverrides],
        summary: result.summary,
      };
    }),
    { config: true },
  );
}
