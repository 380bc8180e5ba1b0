/**
 * Stream lifecycle without leaks (issue 13, item 1): an xDS stream cancelled at any moment — before
 * its first request, right after it, while a push is going out, on ADS (SotW and delta) and on the
 * per-type services — is released at once: no entry left in XdsServer.status(), the streams gauge back
 * to 0, its proxy's own-resource session (personal.ts) closed. A client that opens a stream and never
 * sends a request (nor resets it) is ended after firstRequestTimeoutMs.
 *
 * Why the ghosts of the issue were there: grpc-js's *client* (1.14.7) has a race — a call cancelled in
 * the same tick it was started ends on the client, but its ResolvingCall still creates the child call
 * when the metadata filters' promise resolves (resolving-call.js getConfig: `filterStack.sendMetadata(..)
 * .then(() => { this.child = ...createRetryingCall(..) })` never looks at `ended`). That child opens a
 * real HTTP/2 stream (HEADERS, and the first request if one was written) and never resets it: for the
 * server it is an open stream on a live connection, and it stays so until the client process exits.
 * The server itself releases a stream on every RST_STREAM and connection loss (the raw HTTP/2 cases
 * below prove it at every moment); what it adds is the first-request deadline, so such a stream (or a
 * client that opens streams on purpose and sends nothing) cannot hold memory for ever.
 */
import http2 from 'node:http2';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, TypeUrl } from '../../src/proto/envoy.js';
import { encodeOwnResource } from '../../src/xds/cache.js';
import type { PersonalResources } from '../../src/xds/personal.js';
import { xdsServiceDefinition, XDS_SERVICES, type XdsServiceSpec } from '../../src/xds/services.js';
import { basicGroup, snapshot } from '../conformance/fixtures.js';
import { startHarness, type Harness } from '../conformance/harness.js';
import { eventually } from '../support/eventually.js';

const OWN = 'own-cert';
const ADS = XDS_SERVICES[0];
const perType = (typeUrl: string) => XDS_SERVICES.find((s) => s.typeUrl === typeUrl)!;

/** Own-resource sessions that become ready after a random delay; counts the open ones. */
function personalStub(): PersonalResources & { live: number; opened: number } {
  const stub = {
    live: 0,
    opened: 0,
    covers: (typeUrl: string, name: string) => typeUrl === TypeUrl.Secret && name === OWN,
    open() {
      stub.live++;
      stub.opened++;
      const own = encodeOwnResource(TypeUrl.Secret, OWN, { name: OWN, generic_secret: { secret: { inline_string: `s${stub.opened}` } } });
      let closed = false;
      return {
        ready: new Promise<void>((resolve) => setTimeout(resolve, Math.random() * 5)),
        get: () => own,
        close() {
          if (!closed) stub.live--;
          closed = true;
        },
      };
    },
  };
  return stub;
}

async function gaugeTotal(h: Harness): Promise<number> {
  const metric = await h.registry.getSingleMetric('banyan_xds_connected_streams')!.get();
  return metric.values.reduce((n, v) => n + v.value, 0);
}

function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

type Moment = 'before-first-request' | 'after-first-request' | 'mid-push' | 'after-ack' | 'random-delay' | 'client-half-close';
const MOMENTS: Moment[] = ['before-first-request', 'after-first-request', 'mid-push', 'after-ack', 'random-delay', 'client-half-close'];

interface Flavor {
  spec: XdsServiceSpec;
  delta: boolean;
  /** Type URLs and names of the first requests. */
  requests: [string, string[]][];
}

const FLAVORS: Flavor[] = [
  { spec: ADS, delta: false, requests: [[TypeUrl.Cluster, []], [TypeUrl.ClusterLoadAssignment, ['a', 'b']], [TypeUrl.Listener, []], [TypeUrl.Secret, [OWN]]] },
  { spec: ADS, delta: true, requests: [[TypeUrl.Cluster, []], [TypeUrl.Listener, []], [TypeUrl.RouteConfiguration, ['edge-routes']], [TypeUrl.Secret, [OWN]]] },
  { spec: perType(TypeUrl.Cluster), delta: false, requests: [[TypeUrl.Cluster, []]] },
  { spec: perType(TypeUrl.ClusterLoadAssignment), delta: true, requests: [[TypeUrl.ClusterLoadAssignment, ['a']]] },
  { spec: perType(TypeUrl.Secret), delta: false, requests: [[TypeUrl.Secret, [OWN]]] },
];

describe('xDS stream lifecycle: nothing outlives a cancelled stream', () => {
  let h: Harness;
  let personal: ReturnType<typeof personalStub>;

  beforeAll(async () => {
    personal = personalStub();
    h = await startHarness({ personal, limits: { firstRequestTimeoutMs: 1500 } });
    const group = basicGroup();
    group.extra = new Map([[TypeUrl.Secret, new Map([[OWN, { name: OWN }]])]]);
    h.cache.setSnapshot(snapshot({ default: group }));
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('10,000 streams cancelled at random moments (SotW and delta, ADS and per-type) leave no status entry, no gauge, no session', async () => {
    // Several connections, as separate proxies have.
    const defs = new Map(XDS_SERVICES.map((s) => [s.service, grpc.makeGenericClientConstructor(xdsServiceDefinition(s, { rawResponses: true }), s.service)]));
    const clients = Array.from({ length: 16 }, () =>
      new Map([...defs].map(([service, Ctor]) => [service, new Ctor(h.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 })])),
    );
    const counts = new Map<string, number>();
    const TOTAL = 10_000;
    const WARM_UP = 1000;
    const BATCH = 500;
    let maxOpen = 0;
    let heapBefore = process.memoryUsage();
    for (let start = 0; start < WARM_UP + TOTAL; start += BATCH) {
      // The baseline is taken once connections, code paths and protos are warm: what is left after is per-stream.
      if (start === WARM_UP) {
        await eventually(() => expect(h.xds.streamCount).toBe(0), 15_000);
        heapBefore = (gc(), process.memoryUsage());
      }
      const done: Promise<void>[] = [];
      for (let i = start; i < start + BATCH; i++) {
        const flavor = FLAVORS[i % FLAVORS.length];
        const moment = MOMENTS[Math.floor(Math.random() * MOMENTS.length)];
        counts.set(`${flavor.delta ? 'delta' : 'sotw'} ${moment}`, (counts.get(`${flavor.delta ? 'delta' : 'sotw'} ${moment}`) ?? 0) + 1);
        const client = clients[i % clients.length].get(flavor.spec.service)!;
        done.push(churnOne(client, flavor, moment, i));
      }
      await Promise.all(done);
      maxOpen = Math.max(maxOpen, h.xds.streamCount);
    }
    await eventually(async () => {
      expect(h.xds.status()).toEqual([]);
      expect(h.xds.streamCount).toBe(0);
      expect(await gaugeTotal(h)).toBe(0);
      expect(personal.live).toBe(0);
    }, 15_000);
    const heapAfter = (gc(), process.memoryUsage());
    for (const c of clients) for (const client of c.values()) client.close();
    console.log(
      `lifecycle churn: ${TOTAL} streams (${[...counts].map(([k, n]) => `${k}: ${n}`).join(', ')}); ${personal.opened} own-resource sessions opened, ${personal.live} open; ` +
        `open at a batch end ≤ ${maxOpen}; heapUsed ${mb(heapBefore.heapUsed)} → ${mb(heapAfter.heapUsed)} MB, rss ${mb(heapBefore.rss)} → ${mb(heapAfter.rss)} MB`,
    );
    expect(personal.opened).toBeGreaterThan(0);
  }, 120_000);

  it('raw HTTP/2 resets at every moment (with HEADERS, after DATA, mid-push) and dropped connections release every stream', async () => {
    const req = Buffer.from(
      encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', { node: { id: 'raw', cluster: 'default' }, type_url: TypeUrl.Cluster }),
    );
    const frame = Buffer.alloc(5 + req.length);
    frame.writeUInt32BE(req.length, 1);
    req.copy(frame, 5);
    const sessions: http2.ClientHttp2Session[] = [];
    const connect = () =>
      new Promise<http2.ClientHttp2Session>((resolve) => {
        const s = http2.connect(`http://${h.address}`);
        s.on('error', () => {});
        s.on('connect', () => resolve(s));
        sessions.push(s);
      });
    const pool = await Promise.all(Array.from({ length: 8 }, connect));
    const open = (s: http2.ClientHttp2Session) => {
      const st = s.request({ ':method': 'POST', ':path': `/${ADS.service}/${ADS.sotw}`, 'content-type': 'application/grpc', te: 'trailers' });
      st.on('error', () => {});
      return st;
    };
    const waits: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++) {
      const st = open(pool[i % pool.length]);
      const cancel = () => st.close(http2.constants.NGHTTP2_CANCEL);
      switch (i % 5) {
        case 0: // RST_STREAM right behind HEADERS
          cancel();
          break;
        case 1: // HEADERS, DATA, RST_STREAM
          st.write(frame);
          cancel();
          break;
        case 2: // reset once the response is on its way
          st.write(frame);
          waits.push(new Promise<void>((resolve) => st.once('data', () => resolve(cancel()))));
          break;
        default:
          st.write(frame);
          setTimeout(cancel, Math.random() * 20);
      }
    }
    await Promise.all(waits);
    // Connections dropped with streams open on them, some mid-push.
    const dropped = await Promise.all(Array.from({ length: 8 }, connect));
    const midPush: Promise<unknown>[] = [];
    for (const [i, s] of dropped.entries()) {
      for (let j = 0; j < 50; j++) {
        const st = open(s);
        st.write(frame);
        if (j === 49) midPush.push(new Promise((resolve) => st.once('data', resolve)));
      }
      setTimeout(() => s.destroy(), i);
    }
    await Promise.race([Promise.all(midPush), new Promise((r) => setTimeout(r, 1000))]);
    for (const s of dropped) s.destroy();
    await eventually(async () => {
      expect(h.xds.streamCount).toBe(0);
      expect(await gaugeTotal(h)).toBe(0);
    }, 10_000);
    for (const s of sessions) s.destroy();
  }, 60_000);

  it('a stream cancelled in the tick it was started (grpc-js opens it anyway) and never reset is ended after firstRequestTimeoutMs', async () => {
    const Ctor = grpc.makeGenericClientConstructor(xdsServiceDefinition(ADS, { rawResponses: true }), ADS.service);
    const client = new Ctor(h.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
    const refusedBefore = await refusedCount(h, 'first_request_timeout');
    for (let i = 0; i < 200; i++) {
      const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Buffer>>)[ADS.sotw]();
      call.on('error', () => {});
      call.cancel();
    }
    // The server does see them: for it they are open streams that never send a request.
    await eventually(() => expect(h.xds.streamCount).toBe(200), 5000);
    await eventually(async () => {
      expect(h.xds.streamCount).toBe(0);
      expect(await gaugeTotal(h)).toBe(0);
    }, 10_000);
    expect((await refusedCount(h, 'first_request_timeout')) - refusedBefore).toBe(200);
    client.close();
  }, 30_000);
});

async function refusedCount(h: Harness, reason: string): Promise<number> {
  const metric = await h.registry.getSingleMetric('banyan_xds_requests_refused_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** One stream, cancelled at `moment`. Never cancels in the tick the call started (see the file's comment). */
async function churnOne(client: grpc.Client, flavor: Flavor, moment: Moment, i: number): Promise<void> {
  const method = flavor.delta ? flavor.spec.delta : flavor.spec.sotw;
  const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Buffer>>)[method]();
  const ended = new Promise<void>((resolve) => {
    call.on('error', () => resolve());
    call.on('end', () => resolve());
    call.on('close', () => resolve());
  });
  const firstData = new Promise<Buffer | undefined>((resolve) => {
    call.once('data', (b: Buffer) => resolve(b));
    setTimeout(() => resolve(undefined), 2000);
  });
  const node = { id: `churn-${i}`, cluster: 'default' };
  const sendAll = () =>
    flavor.requests.forEach(([typeUrl, names], j) =>
      call.write(
        flavor.delta
          ? { ...(j === 0 && { node }), type_url: typeUrl, resource_names_subscribe: names }
          : { ...(j === 0 && { node }), type_url: typeUrl, resource_names: names },
      ),
    );
  await new Promise((r) => setImmediate(r));
  switch (moment) {
    case 'before-first-request':
      break;
    case 'after-first-request':
      sendAll();
      break;
    case 'mid-push':
      sendAll();
      await firstData;
      break;
    case 'after-ack': {
      sendAll();
      const first = await firstData;
      if (first) call.write({ type_url: flavor.requests[0][0], response_nonce: 'ack' });
      break;
    }
    case 'random-delay':
      sendAll();
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      break;
    case 'client-half-close':
      sendAll();
      call.end();
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
      break;
  }
  call.cancel();
  await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
}
