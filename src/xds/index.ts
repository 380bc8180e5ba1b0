export { SnapshotCache, EncodedResource, encodeOwnResource, type SnapshotChange, type TypeResources } from './cache.js';
export { XdsServer, type XdsServerOptions } from './server.js';
export { XDS_SERVICES, xdsServiceDefinition, type XdsServiceSpec } from './services.js';
export type { ProxyStatus, TypeStatus, NackRecord, StreamKind, SyncState } from './status.js';
export type { XdsEvents } from './stream.js';
export { PersonalRefusal, type PersonalProxy, type PersonalResources, type PersonalSession } from './personal.js';
export type { PeerCall } from './stream.js';
