/**
 * A real OpenTelemetry Collector for tests (test/go/otelcol: the OTLP receiver over HTTP and the
 * contrib file exporter), so what Banyan exports is read back after a real OTLP/HTTP protobuf
 * receiver decoded it. Built once per module content by goBinary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { goBinary } from './go.js';
import { freePort, waitForPort } from './ports.js';

/** One span as the file exporter writes it (OTLP JSON: ids in hex, attributes as typed values). */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  service?: string;
}

export interface Collector {
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

export async function startCollector(): Promise<Collector> {
  const bin = await goBinary('otelcol');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-otelcol-'));
  const port = await freePort();
  const out = path.join(dir, 'traces.jsonl');
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${port}`,
      'exporters:',
      '  file:',
      `    path: ${out}`,
      '    flush_interval: 100ms',
      'service:',
      // the collector's own metrics endpoint would bind :8888
      '  telemetry:',
      '    metrics:',
      '      level: none',
      '  pipelines:',
      '    traces:',
      '      receivers: [otlp]',
      '      exporters: [file]',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(bin, ['--config', `file:${config}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d: Buffer) => (log = (log + d.toString('utf8')).slice(-16384));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, '127.0.0.1', 30_000);
  } catch (err) {
    await stop();
    throw new Error(`collector did not listen: ${(err as Error).message}\n${log}`);
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
              traceId: s.traceId as string,
              spanId: s.spanId as string,
              parentSpanId: (s.parentSpanId as string) || undefined,
              name: s.name as string,
              kind: s.kind as number | undefined,
              attributes: attrs(s.attributes as { key: string; value: AnyValue }[]),
              events: ((s.events as { name: string; attributes?: { key: string; value: AnyValue }[] }[]) ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
              service,
            });
          }
        }
      }
    }
    return found;
  };
  return { endpoint: `http://127.0.0.1:${port}`, spans, output: () => log, stop };
}
