/** Output helpers: JSON (or YAML) for scripts, aligned tables for people, colour only on a TTY. */
import { InvalidArgumentError, Option, type Command } from 'commander';
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

/** The machine formats every command that prints something takes with `-o/--output`. */
export const STRUCTURED_FORMATS = ['json', 'yaml'] as const;
export type StructuredFormat = (typeof STRUCTURED_FORMATS)[number];

/**
 * `-o, --output json|yaml`: the same flag with the same values on every command that prints
 * something. Left out, a command prints for people (a table or text), or, for a command whose output
 * is a document (`xds`, `schema`), `defaultFormat`. `table` (and `text`, which validate and certs
 * inspect took) still name the output for people where there is one. Any other value is a usage
 * error (exit 2) naming the allowed ones.
 */
export function outputOption<T extends Command>(cmd: T, opts: { defaultFormat?: StructuredFormat } = {}): T {
  const option = new Option('-o, --output <format>', outputHelp(opts.defaultFormat)).argParser((value: string) => parseOutputFormat(value, opts.defaultFormat));
  if (opts.defaultFormat) option.default(opts.defaultFormat);
  cmd.addOption(option);
  return cmd;
}

function outputHelp(defaultFormat: StructuredFormat | undefined): string {
  return defaultFormat ? `print ${STRUCTURED_FORMATS.join(' or ')}` : `print ${STRUCTURED_FORMATS.join(' or ')} instead of the output for people`;
}

/** What `-o` takes; throws commander's InvalidArgumentError (a usage error, exit 2) naming the allowed values. */
export function parseOutputFormat(value: string, defaultFormat?: StructuredFormat): OutputFormat {
  const v = value.toLowerCase();
  if ((STRUCTURED_FORMATS as readonly string[]).includes(v)) return v as StructuredFormat;
  if (!defaultFormat && (v === 'table' || v === 'text')) return 'table';
  // commander prefixes: error: option '-o, --output <format>' argument 'xml' is invalid.
  throw new InvalidArgumentError(`Allowed: ${STRUCTURED_FORMATS.join(', ')}${defaultFormat ? ` (default ${defaultFormat})` : '; leave -o out for the output for people'}.`);
}

/** Prints `value` as JSON or YAML when `format` asks for one and returns true; false for the output for people (the caller renders it). */
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
