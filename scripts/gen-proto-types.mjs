#!/usr/bin/env node
// Generates TypeScript types for the Envoy messages Banyan emits into src/proto/generated/ (gitignored),
// with @grpc/proto-loader's proto-loader-gen-types, from the same proto tree Banyan loads at runtime
// (@grpc/grpc-js-xds's deps/, see src/proto/paths.ts). The output is derived from upstream protos, so
// it is never committed: `npm test` and `npm run build` run this first. A stamp (manifest.json) of
// everything the output depends on skips regeneration when nothing changed.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(repo, 'src', 'proto', 'generated');

/**
 * The files defining every message src/compile builds (imports are followed). A subset of what
 * src/proto/envoy.ts loads (ENTRY_PROTOS and the features' HttpFeature.protos): the xDS and gRPC
 * service protos are left out because nothing Banyan builds is typed from them, and each file costs
 * generation and tsc time. test/compile/typed.test.ts fails when a feature's protos are missing here.
 */
const PROTOS = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'ratelimit/config/ratelimit/v3/rls_conf.proto',
];

/**
 * Input types are what the compiler writes, in the object form encodeMessage takes (keepCase: snake_case
 * as in Envoy's docs; enums by name or number; Durations as {seconds, nanos}). The __Output options match
 * TO_OBJECT_OPTIONS in src/proto/envoy.ts (longs Number, enums String, bytes String, json), so decoded
 * values can be typed with them too; no --defaults/--oneofs, which that decoding does not use either.
 */
const OPTIONS = ['--keepCase', '--longs=Number', '--enums=String', '--bytes=String', '--json', '--importFileExtension=.js'];

const packageDir = (name) => path.dirname(require.resolve(`${name}/package.json`));
const version = (name) => JSON.parse(fs.readFileSync(path.join(packageDir(name), 'package.json'), 'utf8')).version;

const deps = path.join(packageDir('@grpc/grpc-js-xds'), 'deps');
// The same include directories as PROTO_INCLUDE_DIRS (src/proto/paths.ts), in the same order.
const includeDirs = [
  path.join(deps, 'envoy-api'),
  path.join(deps, 'xds'),
  path.join(deps, 'googleapis'),
  path.join(deps, 'protoc-gen-validate'),
  packageDir('protobufjs'),
  path.join(repo, 'protos'),
];

/** Everything the output depends on; the upstream tree is pinned by its package version. */
function stamp() {
  const own = createHash('sha256');
  for (const file of listFiles(path.join(repo, 'protos')).sort()) own.update(file).update(fs.readFileSync(file));
  own.update(fs.readFileSync(fileURLToPath(import.meta.url)));
  return {
    '@grpc/grpc-js-xds': version('@grpc/grpc-js-xds'),
    '@grpc/proto-loader': version('@grpc/proto-loader'),
    protobufjs: version('protobufjs'),
    inputs: own.digest('hex'),
    protos: PROTOS,
  };
}

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(p) : [p];
  });
}

function generate(target) {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageDir('@grpc/proto-loader'), 'package.json'), 'utf8'));
  const bin = path.join(packageDir('@grpc/proto-loader'), pkg.bin['proto-loader-gen-types']);
  execFileSync(process.execPath, [bin, ...OPTIONS, '-I', ...includeDirs, '-O', target, ...PROTOS], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
  // TypeScript lets a type alias, not an interface, stand where a Record<string, unknown> is expected,
  // and EnvoyResource (src/compile/types.ts) is exactly that for the cache, admission and diff. The
  // generator writes each message as `export interface Name {` … `}`, which as a type alias reads the same.
  for (const file of listFiles(target)) {
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.replace(/^export interface (\w+) \{$/gm, 'export type $1 = {'));
  }
}

const manifestPath = path.join(outDir, 'manifest.json');
const want = JSON.stringify(stamp(), null, 2);
if (fs.existsSync(manifestPath) && fs.readFileSync(manifestPath, 'utf8') === want) process.exit(0);

const started = Date.now();
// Generate beside the output and swap it in, so a tsc running meanwhile never sees half a tree. The
// temporary directories start with a dot, which tsconfig's src/**/*.ts does not match.
const tmp = path.join(path.dirname(outDir), `.generated.tmp-${process.pid}`);
const old = path.join(path.dirname(outDir), `.generated.old-${process.pid}`);
try {
  generate(tmp);
  fs.writeFileSync(path.join(tmp, 'manifest.json'), want);
  try {
    fs.renameSync(outDir, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  try {
    fs.renameSync(tmp, outDir);
  } catch (err) {
    // Another run swapped in its output first; it is as good as ours if it was made from the same inputs.
    if (!fs.existsSync(manifestPath) || fs.readFileSync(manifestPath, 'utf8') !== want) throw err;
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(old, { recursive: true, force: true });
}
process.stderr.write(`gen:types: ${listFiles(outDir).length} files in ${path.relative(repo, outDir)} (${Date.now() - started} ms)\n`);
