import { spawn } from 'node:child_process';
import { goBinary } from '../support/go.js';

export interface OracleRequest {
  typeUrl: string;
  bytes: Uint8Array;
}

/** What Go's protojson printed for one message, or the error it gave instead. */
export type OracleAnswer = { json: unknown } | { error: string };

/** Builds test/go/protojson (once per module content; see test/support/go.ts). */
export function buildProtojson(): Promise<string> {
  return goBinary('protojson');
}

/**
 * Runs the Go protojson binary once over every request (one line each way) and returns its answers in
 * request order. `json` is JSON.parse of protojson's own text, so key order is Go's too.
 */
export function goProtojson(binary: string, requests: readonly OracleRequest[]): Promise<OracleAnswer[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`protojson exited ${code}: ${Buffer.concat(err).toString()}`));
      const lines = Buffer.concat(out).toString().split('\n').filter((l) => l.length > 0);
      if (lines.length !== requests.length) return reject(new Error(`protojson answered ${lines.length} lines for ${requests.length} requests`));
      resolve(lines.map((line) => JSON.parse(line) as OracleAnswer));
    });
    child.stdin.end(requests.map((r) => `${JSON.stringify({ type_url: r.typeUrl, value: Buffer.from(r.bytes).toString('base64') })}\n`).join(''));
  });
}
