/**
 * Limits on what an xDS client may send (issue 13, item 5), each over a real grpc-js client on
 * loopback: a request beyond a limit ends its stream with a clear gRPC status and counts in
 * banyan_xds_requests_refused_total{reason}; a well-formed type Banyan does not serve is answered
 * empty and the stream keeps working. And the cheap ACK (item 3): a SotW request whose names repeat
 * the previous one's is read without decoding them.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, messageType } from '../../src/proto/envoy.js';
import { DEFAULT_LIMITS, isRefused, readSotwRequest, type SotwRequest } from '../../src/xds/requests.js';
import { basicGroup, snapshot } from '../conformance/fixtures.js';
import { CDS, DeltaClient, EDS, SotwClient, startHarness, type Harness } from '../conformance/harness.js';
import { eventually } from '../support/eventually.js';

async function refused(h: Harness, reason: string): Promise<number> {
  const metric = await h.registry.getSingleMetric('banyan_xds_requests_refused_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ limits: { maxRequestBytes: 256 * 1024 } });
  h.cache.setSnapshot(snapshot({ default: basicGroup() }));
});
afterAll(async () => {
  await h?.stop();
});

let seq = 0;
/** Sends `req` as a stream's first request and expects the stream to end with `code`, counted under `reason`. */
async function expectRefused(req: Record<string, unknown>, code: grpc.status, reason: string, delta = false): Promise<grpc.ServiceError> {
  const before = await refused(h, reason);
  const c = delta ? DeltaClient.ads(h.address, { id: `limits-${++seq}` }) : SotwClient.ads(h.address, { id: `limits-${++seq}` });
  try {
    c.write(req);
    const err = await eventually(() => c.error ?? Promise.reject(new Error('stream not ended yet')), 5000);
    expect(err.code).toBe(code);
    expect(await refused(h, reason)).toBe(before + 1);
    await eventually(() => expect(h.xds.status().some((s) => s.nodeId === `limits-${seq}`)).toBe(false));
    return err;
  } finally {
    c.close();
  }
}

describe('limits on what an xDS client may send', () => {
  it('defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxRequestBytes: 4 * 1024 * 1024,
      maxResourceNames: 20_000,
      maxNameBytes: 2048,
      maxNonceBytes: 128,
      maxVersionBytes: 512,
      maxTypeUrlBytes: 256,
      maxTypesPerStream: 32,
      firstRequestTimeoutMs: 30_000,
      maxNackMessageChars: 4096,
    });
    expect(h.xds.limits.maxRequestBytes).toBe(256 * 1024);
    expect(h.xds.limits.maxResourceNames).toBe(20_000);
  });

  it('a request larger than maxRequestBytes: RESOURCE_EXHAUSTED', async () => {
    const err = await expectRefused({ type_url: EDS, resource_names: ['x'.repeat(300 * 1024)] }, grpc.status.RESOURCE_EXHAUSTED, 'message_too_large');
    expect(err.details).toMatch(/larger than the 262144 bytes allowed/);
  });

  it('more resource names than maxResourceNames (SotW and delta): RESOURCE_EXHAUSTED', async () => {
    const names = Array.from({ length: 20_001 }, (_, i) => `c${i}`);
    const err = await expectRefused({ type_url: EDS, resource_names: names }, grpc.status.RESOURCE_EXHAUSTED, 'too_many_names');
    expect(err.details).toMatch(/more than 20000 resources/);
    await expectRefused({ type_url: EDS, resource_names_subscribe: names }, grpc.status.RESOURCE_EXHAUSTED, 'too_many_names', true);
  });

  it('a resource name, nonce or version beyond its length: INVALID_ARGUMENT', async () => {
    await expectRefused({ type_url: EDS, resource_names: ['n'.repeat(2049)] }, grpc.status.INVALID_ARGUMENT, 'name_too_long');
    const err = await expectRefused({ type_url: CDS, response_nonce: 'n'.repeat(129) }, grpc.status.INVALID_ARGUMENT, 'nonce_too_long');
    expect(err.details).toBe('response_nonce is longer than 128 bytes');
    await expectRefused({ type_url: CDS, response_nonce: 'n'.repeat(200_000) }, grpc.status.INVALID_ARGUMENT, 'nonce_too_long');
    await expectRefused({ type_url: CDS, version_info: 'v'.repeat(513) }, grpc.status.INVALID_ARGUMENT, 'version_too_long');
    await expectRefused({ type_url: CDS, response_nonce: 'n'.repeat(129) }, grpc.status.INVALID_ARGUMENT, 'nonce_too_long', true);
  });

  it('a type_url that is no type URL: INVALID_ARGUMENT', async () => {
    const err = await expectRefused({ type_url: 'not a type url' }, grpc.status.INVALID_ARGUMENT, 'bad_type_url');
    expect(err.details).toMatch(/is not a type URL/);
    await expectRefused({ type_url: `type.googleapis.com/${'a.'.repeat(200)}B` }, grpc.status.INVALID_ARGUMENT, 'bad_type_url');
    await expectRefused({ type_url: 'type.googleapis.com/' }, grpc.status.INVALID_ARGUMENT, 'bad_type_url', true);
  });

  it('a type Banyan does not serve (VirtualHost, ScopedRouteConfiguration) is answered empty and the stream keeps working', async () => {
    for (const delta of [false, true]) {
      const c = delta ? DeltaClient.ads(h.address, { id: `unserved-${delta}` }) : SotwClient.ads(h.address, { id: `unserved-${delta}` });
      try {
        for (const typeUrl of ['type.googleapis.com/envoy.config.route.v3.VirtualHost', 'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration']) {
          if (c instanceof SotwClient) c.request(typeUrl, ['some-vhost']);
          else c.request(typeUrl, { subscribe: ['some-vhost'] });
          const r = await c.next(typeUrl);
          expect(r.resources).toEqual([]);
        }
        if (c instanceof SotwClient) c.request(CDS);
        else c.request(CDS, { subscribe: ['*'] });
        expect((await c.next(CDS)).resources.length).toBe(2);
        expect(c.error).toBeUndefined();
      } finally {
        c.close();
      }
    }
  });

  it('more distinct types than maxTypesPerStream on one stream: RESOURCE_EXHAUSTED, after the first 32 were answered', async () => {
    const before = await refused(h, 'too_many_types');
    const c = SotwClient.ads(h.address, { id: 'many-types' });
    try {
      for (let i = 0; i < 32; i++) c.request(`type.googleapis.com/zz.bogus.Type${i}`, [`r${i}`]);
      await eventually(() => expect(new Set(c.unread().map((r) => r.type_url)).size).toBe(32));
      c.request('type.googleapis.com/zz.bogus.Type32');
      const err = await eventually(() => c.error ?? Promise.reject(new Error('not ended')), 5000);
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/at most 32 types/);
      expect(await refused(h, 'too_many_types')).toBe(before + 1);
    } finally {
      c.close();
    }
  });

  it('a long NACK message is kept cut to maxNackMessageChars; the stream is not refused', async () => {
    const c = SotwClient.ads(h.address, { id: 'long-nack' });
    try {
      c.request(CDS);
      const r = await c.next(CDS);
      c.nack(r, 'e'.repeat(100_000), '');
      await eventually(() => {
        const nack = h.xds.status().find((s) => s.nodeId === 'long-nack')!.types.find((t) => t.typeUrl === CDS)!.lastNack!;
        expect(nack.message.length).toBeLessThan(4200);
        expect(nack.message).toMatch(/^e{4096}… \(95904 more characters\)$/);
      });
      expect(c.error).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it('a garbled request: INVALID_ARGUMENT', async () => {
    const before = await refused(h, 'malformed');
    const def = {
      Raw: {
        path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    };
    const Ctor = grpc.makeGenericClientConstructor(def, 'raw');
    const client = new Ctor(h.address, grpc.credentials.createInsecure());
    const call = (client as unknown as { Raw: () => grpc.ClientDuplexStream<Buffer, Buffer> }).Raw();
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('error', resolve);
      // field 3 (resource_names) claiming 100 bytes that are not there
      call.write(Buffer.from([0x1a, 100, 0x61]));
    });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await refused(h, 'malformed')).toBe(before + 1);
    client.close();
  });
});

describe('cheap ACKs: resource names are read only when they change', () => {
  const enc = (req: Record<string, unknown>) => Buffer.from(encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', req));
  const read = (req: Record<string, unknown>) => {
    const r = readSotwRequest(enc(req), DEFAULT_LIMITS);
    if (isRefused(r)) throw new Error(r.refused.message);
    return r;
  };

  it('the field numbers read are those of the loaded DiscoveryRequest', () => {
    const t = messageType('envoy.service.discovery.v3.DiscoveryRequest');
    expect(['version_info', 'node', 'resource_names', 'type_url', 'response_nonce', 'error_detail'].map((f) => t.fields[f].id)).toEqual([1, 2, 3, 4, 5, 6]);
    const d = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    expect(
      ['node', 'type_url', 'resource_names_subscribe', 'resource_names_unsubscribe', 'initial_resource_versions', 'response_nonce', 'error_detail'].map((f) => d.fields[f].id),
    ).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('reads what protobufjs reads, and the same names give the same key without being decoded', () => {
    const names = Array.from({ length: 500 }, (_, i) => `cluster-${i}`);
    const full = {
      version_info: 'v1',
      node: { id: 'n1', cluster: 'c1', user_agent_name: 'envoy' },
      resource_names: names,
      type_url: EDS,
      response_nonce: '7',
      error_detail: { code: 3, message: 'bad' },
    };
    const a = read(full);
    expect({ ...a.node }).toEqual({ id: 'n1', cluster: 'c1', user_agent_name: 'envoy' });
    expect([a.version_info, a.type_url, a.response_nonce, a.error_detail?.message, a.nameCount]).toEqual(['v1', EDS, '7', 'bad', 500]);
    const b = read({ ...full, version_info: 'v2', response_nonce: '8', error_detail: undefined });
    expect(b.namesKey).toBe(a.namesKey);
    // not decoded until asked for
    expect((b as unknown as { names?: string[] }).names).toBeUndefined();
    expect(a.resource_names).toEqual(names);
    expect(read({ ...full, resource_names: [...names.slice(1), 'other'] }).namesKey).not.toBe(a.namesKey);
    expect(read({ type_url: EDS }).namesKey).toBe('');
    expect(read({ type_url: EDS }).resource_names).toEqual([]);
  });

  it('an ACK repeating the names leaves the subscription as it is; a change of names is applied', async () => {
    const c = SotwClient.ads(h.address, { id: 'cheap-ack' });
    try {
      c.request(EDS, ['a', 'b']);
      const r = await c.next(EDS);
      c.ack(r, ['a', 'b']);
      await eventually(() => expect(h.xds.status().find((s) => s.nodeId === 'cheap-ack')!.types[0].state).toBe('SYNCED'));
      c.ack(r, ['a']);
      const r2 = await c.next(EDS);
      expect(r2.version_info).not.toBe(r.version_info);
      c.ack(r2, ['a']);
      await eventually(() => {
        const st = h.xds.status().find((s) => s.nodeId === 'cheap-ack')!.types[0];
        expect(st.subscribed).toEqual(['a']);
        expect(st.state).toBe('SYNCED');
      });
      expect(await c.barrier()).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('unknown fields and varint fields are skipped', () => {
    const extra = protobuf.Writer.create().uint32((40 << 3) | 0).uint32(7).uint32((41 << 3) | 2).string('x').finish();
    const r = readSotwRequest(Buffer.concat([enc({ type_url: CDS, resource_names: ['a'] }), extra]), DEFAULT_LIMITS) as SotwRequest;
    expect(r.resource_names).toEqual(['a']);
  });
});
