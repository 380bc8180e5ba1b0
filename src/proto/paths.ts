import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

// Envoy's API protos are not vendored: they come from the tree that
// @grpc/grpc-js-xds ships, resolved at runtime from node_modules.
const xdsPackageDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const depsDir = path.join(xdsPackageDir, 'deps');
// google/protobuf/descriptor.proto (imported by the validate/udpa annotations) ships with protobufjs.
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));

/** Include directories for Envoy's API and its dependencies, then Banyan's own protos. */
export const PROTO_INCLUDE_DIRS: readonly string[] = [
  path.join(depsDir, 'envoy-api'),
  path.join(depsDir, 'xds'),
  path.join(depsDir, 'googleapis'),
  path.join(depsDir, 'protoc-gen-validate'),
  protobufjsDir,
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'protos'),
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'protos'),
];
