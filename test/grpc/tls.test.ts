/**
 * Transport security on every server `banyan serve` runs (xDS, rate limit, authz, admin): TLS and
 * mTLS from files made by openssl, refusal of plaintext and of wrong client certificates, rotation
 * of the files without a restart or a dropped ADS stream, and the refusal of insecure non-loopback binds.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlsFileWatcher, isLoopbackHost, type TlsFiles } from '../../src/grpc/tls.js';
import { decodeMessage, loadEnvoyProtos, TypeUrl } from '../../src/proto/envoy.js';
import { authorizationServiceDefinition, methodDefinition, rateLimitServiceDefinition } from '../../src/proto/grpc.js';
import { routesYaml } from '../admin/harness.js';
import { runAuthz } from '../../src/authz/run.js';
import { runRateLimit } from '../../src/ratelimit/run.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';
import { issueCert, makeCa, replaceFile, type TestCa, type TestCert } from '../support/certs.js';
import { eventually } from '../support/eventually.js';

interface Pki {
  dir: string;
  ca: TestCa;
  otherCa: TestCa;
  server: TestCert;
  client: TestCert;
  foreignClient: TestCert;
}

let pki: Pki;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-tls-'));
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  pki = {
    dir,
    ca,
    otherCa,
    server: issueCert(ca, dir, 'server', { kind: 'server' }),
    client: issueCert(ca, dir, 'client', { kind: 'client' }),
    foreignClient: issueCert(otherCa, dir, 'foreign-client', { kind: 'client' }),
  };
});

afterAll(() => {
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

type Creds = grpc.ChannelCredentials;
const tlsCreds = (client?: TestCert) => grpc.credentials.createSsl(pki.ca.pem, client?.key ?? null, client?.cert ?? null);
const plain = () => grpc.credentials.createInsecure();

/** The outcome of one call: 'ok' or the gRPC status code it failed with. */
type Outcome = 'ok' | grpc.status;

function unary(def: grpc.ServiceDefinition, method: string, port: number, creds: Creds, req: unknown): Promise<Outcome> {
  const Ctor = grpc.makeGenericClientConstructor(def, method);
  const client = new Ctor(`127.0.0.1:${port}`, creds) as unknown as grpc.Client & Record<string, (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void>;
  return new Promise<Outcome>((resolve) => {
    client[method](req, { deadline: Date.now() + 5_000 }, (err) => resolve(err ? err.code : 'ok'));
  }).finally(() => client.close());
}

const shouldRateLimit = (port: number, creds: Creds) =>
  unary(rateLimitServiceDefinition(), 'ShouldRateLimit', port, creds, { domain: 'none', descriptors: [{ entries: [{ key: 'k', value: 'v' }] }] });
const check = (port: number, creds: Creds) => unary(authorizationServiceDefinition(), 'Check', port, creds, { attributes: { request: { http: { path: '/', headers: {} } } } });

/** A minimal ADS client (state of the world) over the given credentials, keeping every LDS response. */
class Ads {
  readonly versions: string[] = [];
  error?: grpc.ServiceError;
  ended = false;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<unknown, Buffer>;

  constructor(port: number, creds: Creds) {
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
    this.client = new Ctor(`127.0.0.1:${port}`, creds);
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, Buffer>>).StreamAggregatedResources();
    this.call.on('data', (res: { version_info?: string; nonce?: string } | Buffer) => {
      const r = Buffer.isBuffer(res) ? decodeMessage<{ version_info?: string; nonce?: string }>('envoy.service.discovery.v3.DiscoveryResponse', res) : res;
      this.versions.push(r.version_info ?? '');
      // ACK, as Envoy does, so that the next push comes
      this.call.write({ type_url: TypeUrl.Listener, version_info: r.version_info, response_nonce: r.nonce, resource_names: [] });
    });
    this.call.on('error', (err: grpc.ServiceError) => (this.error = err));
    this.call.on('end', () => (this.ended = true));
    this.call.write({ node: { id: 'tls-proxy', cluster: 'default' }, type_url: TypeUrl.Listener, resource_names: [] });
  }

  /** Resolves once a response has arrived, or with the status the stream failed with. */
  async firstOutcome(): Promise<Outcome> {
    return eventually(() => {
      if (this.versions.length) return 'ok' as const;
      if (this.error) return this.error.code;
      throw new Error('no ADS response yet');
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

async function adsOutcome(port: number, creds: Creds): Promise<Outcome> {
  const ads = new Ads(port, creds);
  try {
    return await ads.firstOutcome();
  } finally {
    ads.close();
  }
}

/** The serial of the certificate a new TLS connection to the port is shown (h2, as gRPC clients ask). */
function peerSerial(port: number, client?: TestCert): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.pem, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'], cert: client?.cert, key: client?.key });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

function httpsGet(port: number, pathname: string, client?: TestCert): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: pathname, ca: pki.ca.pem, servername: 'localhost', cert: client?.cert, key: client?.key, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

function plainHttpGet(port: number, pathname: string): Promise<number> {
  return fetch(`http://127.0.0.1:${port}${pathname}`).then((r) => r.status);
}

const serverTls = (extra: Partial<TlsFiles> = {}): TlsFiles => ({ certFile: pki.server.certFile, keyFile: pki.server.keyFile, requireClientCert: false, ...extra });
const servicesOn = { ratelimitPort: 0, authzPort: 0 } as const;

describe('TLS on every server of banyan serve', () => {
  let t: TestBanyan;
  beforeAll(async () => {
    loadEnvoyProtos();
    t = await startTestBanyan(routesYaml(), { ...servicesOn, tls: serverTls() });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a TLS client reaches xDS (ADS answers), rate limit (ShouldRateLimit) and authz (Check)', async () => {
    const { xds, ratelimit, authz } = t.banyan.ports;
    expect(await adsOutcome(xds, tlsCreds())).toBe('ok');
    expect(await shouldRateLimit(ratelimit!, tlsCreds())).toBe('ok');
    expect(await check(authz!, tlsCreds())).toBe('ok');
  });

  it('a plaintext client is refused by each', async () => {
    const { xds, ratelimit, authz } = t.banyan.ports;
    expect(await adsOutcome(xds, plain())).toBe(grpc.status.UNAVAILABLE);
    expect(await shouldRateLimit(ratelimit!, plain())).toBe(grpc.status.UNAVAILABLE);
    expect(await check(authz!, plain())).toBe(grpc.status.UNAVAILABLE);
  });

  it('a client that does not trust the server CA is refused', async () => {
    const untrusting = grpc.credentials.createSsl(pki.otherCa.pem);
    expect(await adsOutcome(t.banyan.ports.xds, untrusting)).toBe(grpc.status.UNAVAILABLE);
  });

  it('the admin API is HTTPS with the same certificate; plain HTTP gets no answer', async () => {
    const { admin } = t.banyan.ports;
    expect(await httpsGet(admin, '/healthz')).toBe(200);
    expect(await peerSerial(admin)).toBe(pki.server.serial);
    await expect(plainHttpGet(admin, '/healthz')).rejects.toThrow();
  });
});

describe('mTLS (--tls-client-ca)', () => {
  let t: TestBanyan;
  beforeAll(async () => {
    t = await startTestBanyan(routesYaml(), { ...servicesOn, tls: serverTls({ caFile: pki.ca.certFile, requireClientCert: true }) });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a client certificate from the CA is served on every gRPC server', async () => {
    const { xds, ratelimit, authz } = t.banyan.ports;
    expect(await adsOutcome(xds, tlsCreds(pki.client))).toBe('ok');
    expect(await shouldRateLimit(ratelimit!, tlsCreds(pki.client))).toBe('ok');
    expect(await check(authz!, tlsCreds(pki.client))).toBe('ok');
  });

  it('no client certificate, or one from another CA, is refused on each', async () => {
    const { xds, ratelimit, authz } = t.banyan.ports;
    for (const creds of [() => tlsCreds(), () => tlsCreds(pki.foreignClient)]) {
      expect(await adsOutcome(xds, creds())).toBe(grpc.status.UNAVAILABLE);
      expect(await shouldRateLimit(ratelimit!, creds())).toBe(grpc.status.UNAVAILABLE);
      expect(await check(authz!, creds())).toBe(grpc.status.UNAVAILABLE);
    }
  });

  it('the admin API asks for a client certificate too', async () => {
    const { admin } = t.banyan.ports;
    expect(await httpsGet(admin, '/healthz', pki.client)).toBe(200);
    await expect(httpsGet(admin, '/healthz')).rejects.toThrow();
    await expect(httpsGet(admin, '/healthz', pki.foreignClient)).rejects.toThrow();
  });
});

describe('rotation of the certificate files', () => {
  it('a new connection sees the new certificate; an ADS stream opened before stays open and keeps receiving pushes', async () => {
    const live = fs.mkdtempSync(path.join(pki.dir, 'live-'));
    const files: TlsFiles = { certFile: path.join(live, 'tls.crt'), keyFile: path.join(live, 'tls.key'), requireClientCert: false };
    fs.writeFileSync(files.certFile, pki.server.cert);
    fs.writeFileSync(files.keyFile, pki.server.key);
    const t = await startTestBanyan(routesYaml(), { tls: files });
    let ads: Ads | undefined;
    try {
      const { xds, admin } = t.banyan.ports;
      expect(await peerSerial(xds)).toBe(pki.server.serial);
      ads = new Ads(xds, tlsCreds());
      expect(await ads.firstOutcome()).toBe('ok');
      const before = ads.versions.length;

      const next = issueCert(pki.ca, pki.dir, 'server-next', { kind: 'server' });
      expect(next.serial).not.toBe(pki.server.serial);
      replaceFile(next.key, files.keyFile);
      replaceFile(next.cert, files.certFile);

      await eventually(async () => expect(await peerSerial(xds)).toBe(next.serial), 15_000);
      await eventually(async () => expect(await peerSerial(admin)).toBe(next.serial), 15_000);
      expect(await adsOutcome(xds, tlsCreds())).toBe('ok');

      // The stream opened on the old certificate still gets the next config (a listener change: LDS is what it watches).
      fs.writeFileSync(t.file, routesYaml().replace('port: 10000', 'port: 10001'));
      await eventually(() => expect(ads!.versions.length).toBeGreaterThan(before), 15_000);
      expect(ads.error).toBeUndefined();
      expect(ads.ended).toBe(false);
    } finally {
      ads?.close();
      await t.stop();
    }
  });
});

describe('rotation of the client CA (mTLS)', () => {
  it('a replaced --tls-client-ca file decides which client certificates new connections accept', async () => {
    const live = fs.mkdtempSync(path.join(pki.dir, 'live-ca-'));
    const caFile = path.join(live, 'ca.crt');
    fs.writeFileSync(caFile, pki.ca.pem);
    const t = await startTestBanyan(routesYaml(), { tls: serverTls({ caFile, requireClientCert: true }) });
    try {
      const { xds } = t.banyan.ports;
      expect(await adsOutcome(xds, tlsCreds(pki.client))).toBe('ok');
      expect(await adsOutcome(xds, tlsCreds(pki.foreignClient))).toBe(grpc.status.UNAVAILABLE);
      replaceFile(pki.otherCa.pem, caFile);
      await eventually(async () => expect(await adsOutcome(xds, tlsCreds(pki.foreignClient))).toBe('ok'), 15_000);
      expect(await adsOutcome(xds, tlsCreds(pki.client))).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await t.stop();
    }
  });
});

describe('TlsFileWatcher', () => {
  it('keeps the last good certificate while the files are half-written or mismatched, then takes the new one', async () => {
    const live = fs.mkdtempSync(path.join(pki.dir, 'watch-'));
    const files: TlsFiles = { certFile: path.join(live, 'tls.crt'), keyFile: path.join(live, 'tls.key'), requireClientCert: false };
    fs.writeFileSync(files.certFile, pki.server.cert);
    fs.writeFileSync(files.keyFile, pki.server.key);
    const watcher = await TlsFileWatcher.open(files, { recheckMs: 60_000 });
    const seen: Buffer[] = [];
    watcher.onChange((m) => seen.push(m.cert));
    try {
      const next = issueCert(pki.ca, pki.dir, 'server-watch', { kind: 'server' });
      // half-written certificate
      fs.writeFileSync(files.certFile, next.cert.subarray(0, 100));
      await watcher.check();
      expect(watcher.material.cert.equals(pki.server.cert)).toBe(true);
      // whole certificate, old key: does not match
      fs.writeFileSync(files.certFile, next.cert);
      await watcher.check();
      expect(watcher.material.cert.equals(pki.server.cert)).toBe(true);
      expect(seen).toHaveLength(0);
      fs.writeFileSync(files.keyFile, next.key);
      await watcher.check();
      expect(watcher.material.cert.equals(next.cert)).toBe(true);
      expect(seen).toHaveLength(1);
    } finally {
      watcher.close();
    }
  });

  it('refuses to open on files that do not make a TLS context, naming them', async () => {
    await expect(TlsFileWatcher.open({ certFile: pki.server.certFile, keyFile: pki.client.keyFile, requireClientCert: false })).rejects.toThrow(pki.server.certFile);
    await expect(TlsFileWatcher.open({ certFile: path.join(pki.dir, 'missing.crt'), keyFile: pki.server.keyFile, requireClientCert: false })).rejects.toThrow(/missing\.crt/);
    await expect(TlsFileWatcher.open({ ...serverTls(), requireClientCert: true })).rejects.toThrow(/--tls-client-ca/);
  });
});

describe('insecure binds', () => {
  it('loopback is 127.0.0.0/8, ::1 and localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('serve on 0.0.0.0 without TLS refuses to start, naming the server, the host and the flags', async () => {
    await expect(startTestBanyan(routesYaml(), { host: '0.0.0.0' })).rejects.toThrow(/xDS server.*0\.0\.0\.0.*--tls-cert.*--tls-key.*--insecure/);
    await expect(startTestBanyan(routesYaml(), { adminHost: '0.0.0.0' })).rejects.toThrow(/admin API.*0\.0\.0\.0/);
  });

  it('with --insecure, or with TLS, it starts on 0.0.0.0', async () => {
    for (const extra of [{ insecure: true }, { tls: serverTls() }]) {
      const t = await startTestBanyan(routesYaml(), { ...extra, host: '0.0.0.0', ...servicesOn });
      try {
        expect(await adsOutcome(t.banyan.ports.xds, extra.tls ? tlsCreds() : plain())).toBe('ok');
        expect(await shouldRateLimit(t.banyan.ports.ratelimit!, extra.tls ? tlsCreds() : plain())).toBe('ok');
      } finally {
        await t.stop();
      }
    }
  });
});

describe('banyan ratelimit and banyan authz on their own', () => {
  const log = createLogger('test', 'silent');

  it('serve mTLS with the same options, and refuse plaintext off loopback', async () => {
    const cfgDir = fs.mkdtempSync(path.join(pki.dir, 'rl-'));
    fs.writeFileSync(path.join(cfgDir, 'd.yaml'), 'domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 5 }\n');
    const mtls = serverTls({ caFile: pki.ca.certFile, requireClientCert: true });
    const rlOpts = { port: 0, config: cfgDir, timeoutMs: 50, failureMode: 'allow' as const, shadow: false, responseHeaders: false, log };
    const rl = await runRateLimit({ ...rlOpts, host: '127.0.0.1', tls: mtls });
    try {
      expect(await shouldRateLimit(rl.port, tlsCreds(pki.client))).toBe('ok');
      expect(await shouldRateLimit(rl.port, tlsCreds())).toBe(grpc.status.UNAVAILABLE);
      expect(await shouldRateLimit(rl.port, plain())).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await rl.stop();
    }
    const az = await runAuthz({ port: 0, host: '127.0.0.1', watch: false, logger: log, tls: mtls });
    try {
      expect(await check(az.port, tlsCreds(pki.client))).toBe('ok');
      expect(await check(az.port, tlsCreds(pki.foreignClient))).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await az.stop();
    }
    await expect(runRateLimit({ ...rlOpts, host: '0.0.0.0' })).rejects.toThrow(/rate limit service without TLS on 0\.0\.0\.0/);
    await expect(runAuthz({ port: 0, host: '0.0.0.0', watch: false, logger: log })).rejects.toThrow(/authz service without TLS on 0\.0\.0\.0/);
  });
});
