/**
 * An independent check of Envoy's protoc-gen-validate rules: test/go/oracle runs go-control-plane's
 * generated ValidateAll() on each resource, and also on the content of every google.protobuf.Any
 * inside it (which ValidateAll itself never looks into).
 *
 * One oracle process per validate() call: it reads all requests from stdin, answers one JSON line
 * each, and exits when stdin closes, so nothing outlives the call. Starting it takes milliseconds
 * (Go's descriptor registry initialises lazily), so a long-lived streaming process would buy nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { goBinary } from './go.js';

export interface OracleInput {
  id: string;
  /** e.g. type.googleapis.com/envoy.config.cluster.v3.Cluster */
  typeUrl: string;
  /** The resource's protobuf binary encoding (src/proto/envoy.ts encodeMessage). */
  bytes: Uint8Array;
}

export interface OracleViolation {
  /** Proto field path below the resource, e.g. `filter_chains[0].filters[0].typed_config(HttpConnectionManager).stat_prefix`. */
  path: string;
  /** ValidateAll's reason, e.g. "value length must be at least 1 runes". */
  reason: string;
}

export interface OracleResult {
  id: string;
  /** No violation and no error. */
  ok: boolean;
  /** Sorted by path, then reason. */
  violations: OracleViolation[];
  /** Messages holding fields that go-control-plane's protos do not know (path: message type). */
  unknownFields: string[];
  /** Set when the resource (or an Any inside it) could not be decoded at all. */
  error?: string;
}

export interface Oracle {
  /** The built binary. */
  binary: string;
  validate(resources: readonly OracleInput[]): Promise<OracleResult[]>;
  /** Validates proto3 JSON (the form Envoy's docs and the golden files use) instead of bytes. */
  validateJson(resources: readonly { id: string; typeUrl: string; json: unknown }[]): Promise<OracleResult[]>;
  /** Kills any run still in flight. */
  close(): Promise<void>;
}

interface WireResult {
  id: string;
  ok: boolean;
  violations: OracleViolation[];
  unknown_fields?: string[];
  error?: string;
}

/** Builds test/go/oracle (slow the first time: call from a beforeAll with a long timeout). */
export async function startOracle(buildTimeoutMs = 600_000): Promise<Oracle> {
  const binary = await goBinary('oracle', '.', buildTimeoutMs);
  const running = new Set<ChildProcess>();

  const run = (lines: string[], ids: string[]): Promise<OracleResult[]> =>
    new Promise((resolve, reject) => {
      const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
      running.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => {
        running.delete(child);
        reject(e);
      });
      child.on('close', (code, signal) => {
        running.delete(child);
        const stderr = Buffer.concat(err).toString('utf8').trim();
        if (code !== 0) {
          reject(new Error(`oracle exited with ${signal ?? code}${stderr ? `: ${stderr}` : ''}`));
          return;
        }
        try {
          const text = Buffer.concat(out).toString('utf8');
          const results = text
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l): OracleResult => {
              const w = JSON.parse(l) as WireResult;
              return { id: w.id, ok: w.ok, violations: w.violations, unknownFields: w.unknown_fields ?? [], ...(w.error ? { error: w.error } : {}) };
            });
          const got = results.map((r) => r.id);
          if (got.length !== ids.length || got.some((id, i) => id !== ids[i])) {
            throw new Error(`oracle answered for [${got.join(', ')}], asked for [${ids.join(', ')}]`);
          }
          resolve(results);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      // A child that dies early makes stdin emit EPIPE; its exit status is reported by 'close'.
      child.stdin!.on('error', () => {});
      child.stdin!.end(lines.join(''));
    });

  return {
    binary,
    validate(resources) {
      const lines = resources.map(
        (r) => `${JSON.stringify({ id: r.id, type_url: r.typeUrl, value: Buffer.from(r.bytes).toString('base64') })}\n`,
      );
      return run(lines, resources.map((r) => r.id));
    },
    validateJson(resources) {
      const lines = resources.map((r) => `${JSON.stringify({ id: r.id, type_url: r.typeUrl, json: r.json })}\n`);
      return run(lines, resources.map((r) => r.id));
    },
    async close() {
      const waits = [...running].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('close', () => resolve());
            child.kill('SIGKILL');
          }),
      );
      await Promise.all(waits);
    },
  };
}
