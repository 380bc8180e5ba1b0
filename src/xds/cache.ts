import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { CompiledSnapshot, EnvoyResource, NodeInfo } from '../compile/types.js';
import { encodeMessage, TypeUrl } from '../proto/envoy.js';
import type { WireForms } from '../proto/wire-form.js';
import { prom } from '../telemetry/metrics.js';
import { contentVersion, setVersion } from './hash.js';
import { encodeAnyBytes, encodeDeltaResource } from './wire.js';

/** One resource, encoded once: shared by every group that has it and every stream it is sent to. */
export class EncodedResource {
  private deltaBytes?: Uint8Array;
  constructor(
    readonly typeUrl: string,
    readonly name: string,
    /** Canonical JSON of the object form: what decides whether the resource changed. */
    readonly json: string,
    /** The google.protobuf.Any wrapping the resource, as it appears in DiscoveryResponse.resources. */
    readonly any: Uint8Array,
    readonly version: string,
  ) {}

  /** The delta-xDS Resource wrapper, built on first use and then shared too. */
  get deltaResource(): Uint8Array {
    this.deltaBytes ??= encodeDeltaResource(this.name, this.version, this.any);
    return this.deltaBytes;
  }
}

/** The resources of one (group, type) and their set version. */
export interface TypeResources {
  resources: ReadonlyMap<string, EncodedResource>;
  version: string;
}

/** What a setSnapshot changed; the server uses it to decide which streams to look at. */
export interface SnapshotChange {
  generation: number;
  /** Per group, the type URLs whose resource set changed (groups that appeared or went included). */
  changed: Map<string, Set<string>>;
  /** Groups the previous snapshot had and this one has not (also in `changed`). */
  gone: Set<string>;
  /** Resources encoded by this call (= resources whose content changed). */
  encoded: number;
  /** performance.now() when setSnapshot was called: the start of push latency. */
  at: number;
}

const EMPTY: TypeResources = { resources: new Map(), version: setVersion([]) };

/**
 * Holds the current compiled snapshot in encoded form. Each resource is encoded only when its content
 * differs from what was encoded before (keyed by type URL and name), so re-setting an equal snapshot
 * costs no encodes and yields equal versions, in this process or after a restart.
 */
export class SnapshotCache extends EventEmitter<{ change: [SnapshotChange] }> {
  private current?: CompiledSnapshot;
  private groups = new Map<string, Map<string, TypeResources>>();
  /** (typeUrl \0 name) → encodings by canonical JSON; groups may hold different content under one name. */
  private encoded = new Map<string, Map<string, EncodedResource>>();
  private gen = 0;
  private readonly log?: Logger;
  private readonly encodes: client.Counter;
  private encodeTotal = 0;

  constructor(opts: { logger?: Logger; registry?: client.Registry } = {}) {
    super();
    this.log = opts.logger?.child({ component: 'xds-cache' });
    this.encodes = new prom.Counter({
      name: 'banyan_xds_resources_encoded_total',
      help: 'Envoy resources serialized to protobuf (once per content change)',
      registers: opts.registry ? [opts.registry] : [],
    });
  }

  get generation(): number {
    return this.gen;
  }

  /** Total encodes since construction (the metric's value, readable without a registry). */
  get encodeCount(): number {
    return this.encodeTotal;
  }

  get snapshot(): CompiledSnapshot | undefined {
    return this.current;
  }

  /** The group a node belongs to, or undefined before the first snapshot. */
  groupOf(node: NodeInfo): string | undefined {
    return this.current?.groupOf(node);
  }

  /** Resources of one type for one group; an empty set for unknown groups and type URLs. */
  get(group: string, typeUrl: string): TypeResources {
    return this.groups.get(group)?.get(typeUrl) ?? EMPTY;
  }

  isApiListener(typeUrl: string, name: string): boolean {
    return typeUrl === TypeUrl.Listener && !!this.current?.apiListenerNames?.has(name);
  }

  /**
   * Makes `snapshot` current. Encodes only resources whose content changed. If any resource fails to
   * encode, throws (naming group, type and resource) and keeps the previous snapshot: never half-applied.
   */
  setSnapshot(snapshot: CompiledSnapshot, wire?: WireForms): SnapshotChange {
    const at = performance.now();
    const nextEncoded = new Map<string, Map<string, EncodedResource>>();
    const nextGroups = new Map<string, Map<string, TypeResources>>();
    let encodedNow = 0;

    for (const [group, set] of snapshot.groups) {
      const types = new Map<string, TypeResources>();
      for (const [typeUrl, resources] of set) {
        const byName = new Map<string, EncodedResource>();
        for (const [name, resource] of resources) {
          const key = `${typeUrl}\0${name}`;
          const admitted = wire?.get(resource);
          const json = admitted?.json ?? JSON.stringify(resource);
          let enc = nextEncoded.get(key)?.get(json) ?? this.encoded.get(key)?.get(json);
          if (!enc) {
            enc = encodeResource(typeUrl, name, json, resource, group, admitted?.bytes);
            encodedNow++;
          }
          let variants = nextEncoded.get(key);
          if (!variants) nextEncoded.set(key, (variants = new Map()));
          variants.set(json, enc);
          byName.set(name, enc);
        }
        types.set(typeUrl, { resources: byName, version: setVersion(byName.values()) });
      }
      nextGroups.set(group, types);
    }

    const changed = diffGroups(this.groups, nextGroups);
    const gone = new Set([...this.groups.keys()].filter((g) => !nextGroups.has(g)));
    this.current = snapshot;
    this.groups = nextGroups;
    this.encoded = nextEncoded;
    this.gen++;
    this.encodeTotal += encodedNow;
    this.encodes.inc(encodedNow);
    const change: SnapshotChange = { generation: this.gen, changed, gone, encoded: encodedNow, at };
    this.log?.info(
      { generation: this.gen, encoded: encodedNow, changed: Object.fromEntries([...changed].map(([g, t]) => [g, [...t].map(shortType)])) },
      'snapshot set',
    );
    this.emit('change', change);
    return change;
  }
}

/** One resource outside any snapshot (a proxy's own secret, personal.ts), encoded as the cache encodes its own. */
export function encodeOwnResource(typeUrl: string, name: string, resource: EnvoyResource): EncodedResource {
  return encodeResource(typeUrl, name, '', resource, '(own)');
}

/** `admitted`: the bytes admission already encoded (the usual case); encodes itself when not given. */
function encodeResource(typeUrl: string, name: string, json: string, resource: EnvoyResource, group: string, admitted?: Uint8Array): EncodedResource {
  let bytes: Uint8Array;
  try {
    bytes = admitted ?? encodeMessage(typeUrl, resource);
  } catch (err) {
    throw new Error(`cannot encode ${shortType(typeUrl)} "${name}" (group "${group}"): ${(err as Error).message}`);
  }
  return new EncodedResource(typeUrl, name, json, encodeAnyBytes(typeUrl, bytes), contentVersion(bytes));
}

function diffGroups(prev: Map<string, Map<string, TypeResources>>, next: Map<string, Map<string, TypeResources>>): Map<string, Set<string>> {
  const changed = new Map<string, Set<string>>();
  for (const group of new Set([...prev.keys(), ...next.keys()])) {
    const a = prev.get(group) ?? new Map<string, TypeResources>();
    const b = next.get(group) ?? new Map<string, TypeResources>();
    const types = new Set<string>();
    for (const typeUrl of new Set([...a.keys(), ...b.keys()])) {
      if ((a.get(typeUrl) ?? EMPTY).version !== (b.get(typeUrl) ?? EMPTY).version) types.add(typeUrl);
    }
    if (types.size) changed.set(group, types);
  }
  return changed;
}

export function shortType(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}
