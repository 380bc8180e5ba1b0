/**
 * Envoy's protoc-gen-validate rules as Banyan reads them: straight from the `(validate.rules)`,
 * `(validate.required)`, `(validate.disabled)` and `(validate.ignored)` annotations of the protos it
 * loads (protobufjs keeps them in `parsedOptions`), so a new Envoy release's rules apply without a
 * line of Banyan changing. Nothing here knows a particular Envoy message.
 */
import type protobuf from 'protobufjs';

/** One field's rules: a single kind (string, uint32, duration, repeated, message, ...) and its options. */
export type FieldRules = Record<string, Record<string, unknown> | undefined> & { message?: { required?: boolean; skip?: boolean } };

type WithOptions = { parsedOptions?: Record<string, unknown>[] | null; options?: Record<string, unknown> };

const fieldRules = new WeakMap<protobuf.Field, FieldRules | null>();
const messageFlags = new WeakMap<protobuf.Type, { disabled: boolean; ignored: boolean }>();
const requiredOneofs = new WeakMap<protobuf.OneOf, boolean>();

function parsed(o: WithOptions, key: string): unknown {
  for (const entry of o.parsedOptions ?? []) if (key in entry) return entry[key];
  return undefined;
}

/** The `(validate.rules)` of a field, or null when it has none. */
export function rulesOf(field: protobuf.Field): FieldRules | null {
  let r = fieldRules.get(field);
  if (r === undefined) {
    r = (parsed(field as unknown as WithOptions, '(validate.rules)') as FieldRules | undefined) ?? null;
    fieldRules.set(field, r);
  }
  return r;
}

/** `option (validate.disabled)` skips a message's own rules; `(validate.ignored)` skips it entirely. */
export function flagsOf(type: protobuf.Type): { disabled: boolean; ignored: boolean } {
  let f = messageFlags.get(type);
  if (!f) {
    const o = type as unknown as WithOptions;
    f = { disabled: parsed(o, '(validate.disabled)') === true, ignored: parsed(o, '(validate.ignored)') === true };
    messageFlags.set(type, f);
  }
  return f;
}

/** `option (validate.required) = true` on a oneof: exactly one of its fields must be set. */
export function oneofRequired(oneof: protobuf.OneOf): boolean {
  let r = requiredOneofs.get(oneof);
  if (r === undefined) {
    r = parsed(oneof as unknown as WithOptions, '(validate.required)') === true;
    requiredOneofs.set(oneof, r);
  }
  return r;
}
