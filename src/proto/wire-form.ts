/**
 * A resource as admission already serialized it: its canonical JSON (what decides whether it
 * changed) and its protobuf bytes. Admission must encode every changed resource to check the wire
 * round-trip; the xDS cache takes these instead of encoding a second time.
 */
export interface WireForm {
  json: string;
  bytes: Uint8Array;
}

/** Wire forms by resource object (compiled resources are never mutated after compile). */
export type WireForms = ReadonlyMap<object, WireForm>;
