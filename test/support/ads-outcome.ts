/** One ADS stream over the given channel credentials, for tests of Banyan's transport security. */
import * as grpc from '@grpc/grpc-js';
import { decodeMessage, loadEnvoyProtos, TypeUrl } from '../../src/proto/envoy.js';
import { methodDefinition } from '../../src/proto/grpc.js';

/** The outcome of one ADS stream: 'ok' once a response came, or the status it failed with. */
export function adsOutcome(port: number, creds: grpc.ChannelCredentials, nodeId = 'tls-proxy'): Promise<'ok' | grpc.status> {
  loadEnvoyProtos();
  const def = {
    StreamAggregatedResources: methodDefinition(
      'envoy.service.discovery.v3.AggregatedDiscoveryService',
      'StreamAggregatedResources',
      'envoy.service.discovery.v3.DiscoveryRequest',
      'envoy.service.discovery.v3.DiscoveryResponse',
      { request: true, response: true },
    ),
  };
  const Ctor = grpc.makeGenericClientConstructor(def, 'Ads');
  const client = new Ctor(`127.0.0.1:${port}`, creds);
  const call = (client as unknown as Record<string, (o: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, Buffer>>).StreamAggregatedResources({ deadline: Date.now() + 10_000 });
  return new Promise<'ok' | grpc.status>((resolve) => {
    call.on('data', (res: { version_info?: string } | Buffer) => {
      const r = Buffer.isBuffer(res) ? decodeMessage<{ version_info?: string }>('envoy.service.discovery.v3.DiscoveryResponse', res) : res;
      resolve(r.version_info ? 'ok' : grpc.status.UNKNOWN);
    });
    call.on('error', (err: grpc.ServiceError) => resolve(err.code));
    call.write({ node: { id: nodeId, cluster: 'default' }, type_url: TypeUrl.Listener, resource_names: [] });
  }).finally(() => {
    call.cancel();
    client.close();
  });
}
