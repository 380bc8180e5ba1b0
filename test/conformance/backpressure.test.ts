import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvoyResource } from '../../src/compile/types.js';
import { decodeMessage } from '../../src/proto/envoy.js';
import { XDS_SERVICES, xdsServiceDefinition } from '../../src/xds/services.js';
import { eventually } from '../support/eventually.js';
import { cluster, endpoints, snapshot } from './fixtures.js';
import { CDS, EDS, SENTINEL, SotwClient, startHarness, type Harness } from './harness.js';

/**
 * Backpressure (issue 13, item 2): a client that stops reading fills its HTTP/2 window; the server then
 * writes nothing more to it (its pushes wait, one per type, the newest), while other streams keep
 * getting theirs; when it reads again it gets the newest version.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

interface Resp {
  type_url: string;
  version_info: string;
  nonce: string;
  resources?: unknown[];
}

/**
 * An ADS client on a bare HTTP/2 stream, so that "stops reading" is exact: a paused Node HTTP/2 stream
 * sends no WINDOW_UPDATE (grpc-js clients buffer 16 messages in their call before they stop).
 */
class RawAdsClient {
  readonly received: Resp[] = [];
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private pending = Buffer.alloc(0);
  private readonly serialize: (v: object) => Buffer;

  constructor(address: string, readonly nodeId: string) {
    const ads = XDS_SERVICES[0];
    this.serialize = xdsServiceDefinition(ads)[ads.sotw].requestSerialize as (v: object) => Buffer;
    this.session = http2.connect(`http://${address}`);
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': `/${ads.service}/${ads.sotw}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    this.stream.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 5 && this.pending.length >= 5 + this.pending.readUInt32BE(1)) {
        const n = this.pending.readUInt32BE(1);
        this.received.push(decodeMessage<Resp>('envoy.service.discovery.v3.DiscoveryResponse', this.pending.subarray(5, 5 + n)));
        this.pending = this.pending.subarray(5 + n);
      }
    });
    this.stream.on('error', () => undefined);
  }

  send(req: Record<string, unknown>): void {
    const body = this.serialize({ node: { id: this.nodeId, cluster: 'default' }, ...req });
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.stream.write(frame);
  }

  ack(r: Resp, names: string[] = []): void {
    this.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: names });
  }

  async next(typeUrl: string, after = 0): Promise<Resp> {
    return eventually(() => {
      const r = this.received.slice(after).find((x) => x.type_url === typeUrl);
      if (!r) throw new Error(`no ${typeUrl} after #${after}`);
      return r;
    });
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  close(): void {
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }
}

/** Version k: cluster "a" has timeout k from version 2 on; endpoints "big" has `size` addresses (the k-th moved). */
function version(k: number, size: number) {
  const addrs = Array.from({ length: size }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${i === k ? 200 : 1}:${8000 + (k % 100)}`);
  const big: EnvoyResource = endpoints('big', ...addrs);
  return snapshot({ default: { clusters: [cluster('a', Math.max(1, k)), cluster('big')], endpoints: [big], listeners: [], routes: [] } });
}

const statusOf = (node: string) => h.xds.status().find((s) => s.nodeId === node)!;
const typeOf = (node: string, typeUrl: string) => statusOf(node).types.find((t) => t.typeUrl === typeUrl)!;

describe('backpressure', () => {
  it('stops writing to a client that stops reading, keeps pushing to the others, and sends it the newest when it reads again', async () => {
    const SIZE = 6000; // endpoints "big" encodes to far more than one HTTP/2 window (64 KiB)
    h.cache.setSnapshot(version(0, 10));
    const slow = new RawAdsClient(h.address, 'bp-slow');
    const fast = SotwClient.ads(h.address, { id: 'bp-fast' });
    try {
      slow.send({ type_url: CDS });
      slow.send({ type_url: EDS, resource_names: ['big'] });
      slow.ack(await slow.next(CDS));
      slow.ack(await slow.next(EDS), ['big']);
      fast.request(CDS);
      fast.ack(await fast.next(CDS));
      await eventually(() => expect(typeOf('bp-slow', EDS).state).toBe('SYNCED'));
      const cdsBefore = typeOf('bp-slow', CDS).versionSent;

      slow.pause();
      const seen = slow.received.length;
      // Only EDS changes; the slow client's response is larger than its window: the write cannot complete.
      h.cache.setSnapshot(version(1, SIZE));
      await eventually(() => expect(statusOf('bp-slow').backpressure?.pendingWrites).toBe(1));

      // Four more versions change CDS, whose last response the slow client read and ACKed: without
      // backpressure it would be written each of them.
      for (let k = 2; k <= 5; k++) {
        h.cache.setSnapshot(version(k, SIZE));
        const r = await fast.next(CDS);
        fast.ack(r); // the other stream keeps getting every push
        await eventually(() => expect(typeOf('bp-fast', CDS).versionAcked).toBe(r.version_info));
      }
      const newestCds = typeOf('bp-fast', CDS).currentVersion;
      expect(typeOf('bp-fast', CDS)).toMatchObject({ state: 'SYNCED', versionAcked: newestCds });
      // ... but nothing more was written to the slow one: one write pending, CDS still at what it had.
      const held = statusOf('bp-slow');
      expect(held.backpressure).toMatchObject({ pendingWrites: 1, pushWaiting: true });
      expect(held.types.find((t) => t.typeUrl === CDS)!.versionSent).toBe(cdsBefore);

      slow.resume();
      const eds1 = await slow.next(EDS, seen);
      const cds = await slow.next(CDS, seen);
      expect(cds.version_info).toBe(newestCds); // the newest, not version 2
      slow.ack(cds);
      slow.ack(eds1, ['big']);
      const eds = await slow.next(EDS, slow.received.indexOf(eds1) + 1);
      expect(eds.version_info).toBe(typeOf('bp-slow', EDS).currentVersion);
      slow.ack(eds, ['big']);
      slow.send({ type_url: SENTINEL, resource_names: ['done'] });
      await slow.next(SENTINEL, seen);
      // after resuming: one EDS of version 1 (written before the pause took hold), one CDS, one newest EDS
      expect(slow.received.slice(seen).filter((r) => r.type_url !== SENTINEL).map((r) => r.type_url)).toEqual([EDS, CDS, EDS]);
      expect(statusOf('bp-slow').backpressure).toBeUndefined();
      expect(typeOf('bp-slow', CDS).state).toBe('SYNCED');
      expect(typeOf('bp-slow', EDS).state).toBe('SYNCED');
    } finally {
      slow.close();
      fast.close();
    }
  });
});
