import type { Command } from 'commander';
import type { ConfigDiff } from '../../diff/config.js';
import type { NamedDiff } from '../../diff/canonical.js';
import type { XdsDiff } from '../../diff/xds.js';
import { clientFrom, CliError, EXIT, withServerOptions } from '../admin-client.js';
import { color, outputOption, printStructured } from '../output.js';
import { parseIntOption } from '../options.js';
import { readCandidate } from './apply.js';

type Reply = { level: 'config'; diff: ConfigDiff; staleOverrides?: string[] } | { level: 'xds'; diff: XdsDiff; staleOverrides?: string[] };

export function register(program: Command): void {
  const cmd = program
    .command('diff')
    .description('Show what changes between two versions, or between a candidate file/directory and what is live')
    .argument('[file-or-dir]', 'candidate config to compare with the live one (a dry run: nothing is applied)')
    .option('--from <version>', 'older version', parseIntOption)
    .option('--to <version>', 'newer version (default: the latest)', parseIntOption)
    .option('--xds', 'compare the compiled xDS resources per proxy group instead of routes/weights/clusters')
    .option('--exit-code', 'exit 1 when there are differences (like git diff --exit-code)');
  outputOption(withServerOptions(cmd))
    .addHelpText(
      'after',
      `
Against the live config, runtime overrides are laid over the candidate exactly as they would be
once applied; overrides the candidate would clear are listed as warnings.

Examples:
  $ banyan diff routes/                 # candidate vs live
  $ banyan diff --from 3 --to 5
  $ banyan diff --from 4 --xds          # version 4 vs latest, as Envoy resources`,
    )
    .action(async (fileOrDir: string | undefined, o) => {
      const client = clientFrom(o);
      const level = o.xds ? 'xds' : 'config';
      let reply: Reply;
      if (fileOrDir) {
        if (o.from !== undefined || o.to !== undefined) throw new CliError('give either FILE_OR_DIR or --from/--to, not both', EXIT.usage);
        reply = await client.post<Reply>('/api/v1/config/diff', { files: await readCandidate(fileOrDir), level });
      } else {
        if (o.from === undefined) throw new CliError('give FILE_OR_DIR, or --from VERSION [--to VERSION]', EXIT.usage);
        const to = o.to ?? (await latestVersion(client));
        reply = await client.get<Reply>(`/api/v1/diff?from=${o.from}&to=${to}&level=${level}`);
      }
      if (!printStructured(reply, o.output)) process.stdout.write(reply.level === 'xds' ? renderXds(reply.diff) : renderConfig(reply.diff));
      for (const s of reply.staleOverrides ?? []) process.stderr.write(`${color.yellow('warning')}: ${s}\n`);
      if (o.exitCode && !reply.diff.empty) process.exitCode = EXIT.failure;
    });
}

async function latestVersion(client: ReturnType<typeof clientFrom>): Promise<number> {
  const { versions } = await client.get<{ versions: { version: number }[] }>('/api/v1/history?limit=1');
  if (versions.length === 0) throw new CliError('no config versions stored yet', EXIT.rejected);
  return versions[0].version;
}

const mark = { added: color.green('+'), removed: color.red('-'), changed: color.yellow('~') };

function renderNamed(title: string, d: NamedDiff): string[] {
  const lines = [
    ...d.added.map((n) => `  ${mark.added} ${n}`),
    ...d.removed.map((n) => `  ${mark.removed} ${n}`),
    ...d.changed.map((c) => `  ${mark.changed} ${c.name} (${c.fields.join(', ')})`),
  ];
  return lines.length ? [`${title}:`, ...lines] : [];
}

/** A config-level diff for people: routes with their weight moves, then each named section that changed. Pure. */
export function renderConfig(d: ConfigDiff): string {
  if (d.empty) return 'no changes\n';
  const routes = [
    ...d.routes.added.map((r) => `  ${mark.added} ${r}`),
    ...d.routes.removed.map((r) => `  ${mark.removed} ${r}`),
    ...d.routes.changed.map((r) => {
      const weights = r.weights.map((w) => `${w.cluster} ${w.before}%→${w.after}%`).join(', ');
      const other = r.fields.filter((f) => f !== 'to' || r.weights.length === 0);
      return `  ${mark.changed} ${r.ref}${weights ? `  weights: ${weights}` : ''}${other.length ? `  (${other.join(', ')})` : ''}`;
    }),
  ];
  const lines = [
    ...(routes.length ? ['routes:', ...routes] : []),
    ...renderNamed('clusters', d.clusters),
    ...renderNamed('listeners', d.listeners),
    ...renderNamed('rate limit domains', d.ratelimitDomains),
    ...renderNamed('auth providers', d.authProviders),
    ...renderNamed('proxy groups', d.groups),
    // `?? empty`: a server from before `rollouts:` existed sends no such section.
    ...renderNamed('rollouts', d.rollouts ?? { added: [], removed: [], changed: [] }),
    `summary: ${d.summary}`,
  ];
  return lines.join('\n') + '\n';
}

function renderXds(d: XdsDiff): string {
  if (d.empty) return 'no changes\n';
  const lines: string[] = [];
  for (const g of d.groups) {
    lines.push(`group ${g.group}${g.status === 'changed' ? '' : ` (${g.status})`}:`);
    for (const t of g.types) {
      lines.push(`  ${t.type}:`);
      lines.push(...t.added.map((n) => `    ${mark.added} ${n}`));
      lines.push(...t.removed.map((n) => `    ${mark.removed} ${n}`));
      lines.push(...t.changed.map((n) => `    ${mark.changed} ${n}`));
    }
  }
  lines.push(`summary: ${d.summary}`);
  return lines.join('\n') + '\n';
}
