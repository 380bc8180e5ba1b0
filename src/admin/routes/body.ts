/** Request-body validation for the ops endpoints: one clear 400 naming every bad field. */
import { z } from 'zod';
import { HttpError, type RequestContext } from '../router.js';

export async function parseBody<S extends z.ZodType>(ctx: RequestContext, schema: S): Promise<z.infer<S>> {
  const raw = await ctx.body();
  if (raw === undefined) throw new HttpError(400, 'request body is empty; expected a JSON object');
  return validate(raw, schema);
}

export function validate<S extends z.ZodType>(raw: unknown, schema: S): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`);
    throw new HttpError(400, `invalid request: ${problems.join('; ')}`, problems);
  }
  return result.data;
}

const nonEmpty = z.string().trim().min(1, 'must be a non-empty string');

export const author = nonEmpty.max(200);

export const files = z
  .array(z.object({ file: nonEmpty, text: z.string() }))
  .min(1, 'give at least one file');

/** A positive integer from a path or query parameter, or a 400 that names it. */
export function intParam(value: string | null | undefined, name: string): number {
  const n = Number(value);
  if (value == null || value === '' || !Number.isInteger(n) || n < 1) {
    throw new HttpError(400, `${name} must be a positive integer, got '${value ?? ''}'`);
  }
  return n;
}
