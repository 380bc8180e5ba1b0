/** Output helpers: JSON (or YAML) for scripts, aligned tables for people, colour only on a TTY. */
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

const useColor = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

function paint(code: number, s: string): string {
  return useColor() ? `\x1b[${code}m${s}\x1b[0m` : s;
}
export const color = {
  red: (s: string) => paint(31, s),
  green: (s: string) => paint(32, s),
  yellow: (s: string) => paint(33, s),
  dim: (s: string) => paint(2, s),
  bold: (s: string) => paint(1, s),
};

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const visibleLength = (s: string): number => s.replace(ANSI, '').length;

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i] - visibleLength(c))).join('  ').trimEnd();
  return [line(headers.map((h) => color.bold(h))), ...rows.map(line)].join('\n') + '\n';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** YAML of a JSON-ready value (what `-o json` prints, as YAML 1.2; undefined fields left out). */
export function yamlText(value: unknown): string {
  return stringify(JSON.parse(JSON.stringify(value ?? null)), { lineWidth: 0 });
}

export function printYaml(value: unknown): void {
  process.stdout.write(yamlText(value));
}

/** `-o/--output`; `yaml: true` for commands that also print YAML (see printStructured). */
export function outputOption<T extends { option: (...a: any[]) => T }>(cmd: T, opts: { yaml?: boolean } = {}): T {
  return cmd.option('-o, --output <format>', opts.yaml ? 'output format: table, json or yaml' : 'output format: table or json', 'table');
}

/** Prints `value` as JSON or YAML when `format` asks for one and returns true; false for a table (the caller renders it). */
export function printStructured(value: unknown, format: string | undefined): boolean {
  if (format === 'json') printJson(value);
  else if (format === 'yaml') printYaml(value);
  else return false;
  return true;
}

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
