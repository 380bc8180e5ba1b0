import { Option, type Command } from 'commander';
import { CliError, EXIT } from '../admin-client.js';
import { outputOption, printStructured } from '../output.js';

const TYPE_NAMES = ['listener', 'route', 'cluster', 'endpoint', 'ratelimit'] as const;
type TypeName = (typeof TYPE_NAMES)[number];

interface XdsOptions {
  group?: string;
  node?: string;
  cluster?: string;
  type?: TypeName;
  output: 'json' | 'yaml';
}

export function register(program: Command): void {
  const cmd = program
    .command('xds')
    .description("print the xDS a proxy group would be served, offline: compile a config and show its resources as Envoy's config_dump spells them")
    .argument('<config>', 'YAML file or directory of YAML files')
    .option('--group <group>', 'the proxy group to show')
    .option('--node <id>', "or: the group a proxy with this node.id would join")
    .option('--cluster <cluster>', "or: the group a proxy with this node.cluster (Envoy's --service-cluster) would join")
    .addOption(new Option('--type <type>', 'only resources of this type').choices(TYPE_NAMES));
  outputOption(cmd, { defaultFormat: 'json' })
    .addHelpText(
      'after',
      '\nOutput: { type URL: { resource name: canonical JSON } } (proto3 JSON as Go protojson prints it).\n' +
        'Exit status: 0 ok, 1 when the config has errors (printed as file:line:col), 2 on usage errors or an unknown group.',
    )
    .action(async (configPath: string, o: XdsOptions) => {
      const byNode = o.node !== undefined || o.cluster !== undefined;
      if (o.group !== undefined && byNode) throw new CliError('give --group, or --node/--cluster, not both', EXIT.usage);
      if (o.group === undefined && !byNode) throw new CliError('give --group, or --node/--cluster to pick the group that proxy would join', EXIT.usage);

      // Loading and compiling pull in zod and every Envoy proto: only this command pays for them.
      const [{ loadConfig }, { formatDiagnostic }, { compile }, { canonicalJsonOf }, { loadEnvoyProtos, TypeUrl }] = await Promise.all([
        import('../../config/load.js'),
        import('../../config/diagnostics.js'),
        import('../../compile/index.js'),
        import('../../proto/json.js'),
        import('../../proto/envoy.js'),
      ]);
      loadEnvoyProtos();
      const wanted: Record<TypeName, string> = {
        listener: TypeUrl.Listener,
        route: TypeUrl.RouteConfiguration,
        cluster: TypeUrl.Cluster,
        endpoint: TypeUrl.ClusterLoadAssignment,
        ratelimit: TypeUrl.RateLimitConfig,
      };
      const loaded = await loadConfig(configPath);
      for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      if (!loaded.config || loaded.diagnostics.some((d) => d.severity === 'error')) {
        process.exitCode = EXIT.failure;
        return;
      }
      const snapshot = compile(loaded.config);
      for (const d of snapshot.warnings) process.stderr.write(`${formatDiagnostic(d)}\n`);

      const group = o.group ?? snapshot.groupOf({ id: o.node ?? '', cluster: o.cluster ?? '', metadata: {}, userAgentName: '' });
      const set = snapshot.groups.get(group);
      if (!set) throw new CliError(`no proxy group "${group}"; have: ${[...snapshot.groups.keys()].join(', ')}`, EXIT.usage);

      const doc: Record<string, Record<string, unknown>> = {};
      for (const typeUrl of [...set.keys()].sort()) {
        if (o.type && typeUrl !== wanted[o.type]) continue;
        const resources = set.get(typeUrl)!;
        doc[typeUrl] = Object.fromEntries([...resources.keys()].sort().map((name) => [name, canonicalJsonOf(typeUrl, resources.get(name)!)]));
      }
      printStructured(doc, o.output);
    });
}
