import { envoyRoot } from '../proto/envoy.js';

/**
 * Envoy protos for resources the compiler emits that src/proto/envoy.ts's ENTRY_PROTOS does not list
 * (the stdout access logger). Loaded once into the shared root so `encodeMessage` knows their types;
 * once ENTRY_PROTOS lists them, this module can go.
 */
const COMPILER_PROTOS = ['envoy/extensions/access_loggers/stream/v3/stream.proto'];

let loaded = false;

export function ensureCompilerProtos(): void {
  if (loaded) return;
  const root = envoyRoot();
  root.loadSync(COMPILER_PROTOS, { keepCase: true });
  root.resolveAll();
  loaded = true;
}
