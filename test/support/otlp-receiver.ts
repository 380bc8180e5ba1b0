/**
 * A real OTLP/HTTP receiver for tests (test/go/otlpsink: the OTLP project's generated protobuf types
 * decode each export request, written back as protojson lines), so what Banyan exports is read after
 * a real protobuf decoder accepted it. Built once per module content by goBinary. (A full Collector
 * was tried first: 876 s to build cold on 2 shared cores; this one about 110 s.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { goBinary } from './go.js';

/** One exported span, ids in hex as in a traceparent, attributes as plain values. */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** SpanKind as the OTLP enum's number (2: server). */
  kind?: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  service?: string;
  /** The W3C tracestate the span carries (its parent's, when continued). */
  traceState?: string;
  /** StatusCode as the OTLP enum's number (0 unset, 1 ok, 2 error). */
  status: { code: number; message?: string };
  /** The spans it links to (ids in hex). */
  links: { traceId: string; spanId: string }[];
}

export interface OtlpReceiver {
  /** The base URL to give as --otlp-endpoint. */
  readonly endpoint: string;
  /** Every span exported so far. */
  spans(): ExportedSpan[];
  output(): string;
  stop(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}

function valueOf(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

const attrs = (list?: { key: string; value: AnyValue }[]) => Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

/** protojson writes bytes as base64 and enums by name; tests compare with traceparent hex and numbers. */
const hex = (b64: unknown) => (typeof b64 === 'string' && b64 ? Buffer.from(b64, 'base64').toString('hex') : undefined);
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const KINDS: Record<string, number> = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };

/** protojson leaves out an unset status and an empty message. */
function statusOf(s: { code?: string; message?: string } | undefined): ExportedSpan['status'] {
  return { code: STATUS_CODES[s?.code ?? 'STATUS_CODE_UNSET'], ...(s?.message ? { message: s.message } : {}) };
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bin = await goBinary('otlpsink');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-otlp-'));
  const out = path.join(dir, 'traces.jsonl');
  const child: ChildProcess = spawn(bin, ['-listen', '127.0.0.1:0', '-out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString('utf8')).slice(-16384)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let address: string;
  try {
    // Its first stdout line is the address it listens on: no port is picked and then raced for.
    address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('OTLP receiver did not start within 30 s')), 30_000);
      readline.createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        resolve(line.trim());
      });
      void exited.then(() => reject(new Error('OTLP receiver exited before listening')));
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  const spans = (): ExportedSpan[] => {
    if (!fs.existsSync(out)) return [];
    const found: ExportedSpan[] = [];
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let doc: { resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] };
      try {
        doc = JSON.parse(line);
      } catch {
        continue; // a line still being written
      }
      for (const rs of doc.resourceSpans ?? []) {
        const service = attrs(rs.resource?.attributes)['service.name'] as string | undefined;
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            found.push({
              traceId: hex(s.traceId)!,
              spanId: hex(s.spanId)!,
              parentSpanId: hex(s.parentSpanId),
              name: s.name as string,
              kind: KINDS[s.kind as string],
              attributes: attrs(s.attributes as { key: string; value: AnyValue }[]),
              links: ((s.links as { traceId: string; spanId: string }[]) ?? []).map((l) => ({ traceId: hex(l.traceId)!, spanId: hex(l.spanId)! })),
              events: ((s.events as { name: string; attributes?: { key: string; value: AnyValue }[] }[]) ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
              service,
              ...(s.traceState ? { traceState: s.traceState as string } : {}),
              status: statusOf(s.status as { code?: string; message?: string } | undefined),
            });
          }
        }
      }
    }
    return found;
  };
  return { endpoint: `http://${address}`, spans, output: () => log, stop };
}
