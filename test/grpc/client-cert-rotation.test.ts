/**
 * A client certificate that rotates (grpcChannelCredentials, what `banyan ratelimit --xds` needs
 * with --xds-client-cert): over real mTLS on loopback, each new connection presents the latest whole
 * pair the files hold, an open connection keeps the one it started with, and a half-written or
 * mismatched file keeps the last good pair.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcChannelCredentials, grpcTransport } from '../../src/grpc/grpc-js-tls.js';
import { TlsFileWatcher } from '../../src/grpc/tls.js';
import { issueCert, makeCa, replaceFile, type TestCa, type TestCert } from '../support/certs.js';

/** One unary method answering with the serial of the client certificate the connection presented. */
const WHO: grpc.ServiceDefinition = {
  Who: {
    path: '/banyan.test.Who/Who',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

describe('grpcChannelCredentials: a rotating client certificate', () => {
  let dir: string;
  let ca: TestCa;
  let first: TestCert;
  let second: TestCert;
  let server: grpc.Server;
  let port: number;
  let watcher: TlsFileWatcher;
  let closeTransport: () => void;
  const files = () => ({ certFile: path.join(dir, 'live', 'tls.crt'), keyFile: path.join(dir, 'live', 'tls.key') });
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'banyan-client-rotation-'));
    ca = makeCa(dir, 'ca');
    const serverCert = issueCert(ca, dir, 'server', { kind: 'server' });
    first = issueCert(ca, dir, 'first', { kind: 'client' });
    second = issueCert(ca, dir, 'second', { kind: 'client' });
    fs.mkdirSync(path.join(dir, 'live'));
    fs.writeFileSync(files().certFile, first.cert);
    fs.writeFileSync(files().keyFile, first.key);

    const transport = await grpcTransport('test server', '127.0.0.1', { tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caFile: ca.certFile, requireClientCert: true } });
    closeTransport = transport.close;
    server = new grpc.Server();
    server.addService(WHO, {
      Who: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        const serial = call.getAuthContext().sslPeerCertificate?.serialNumber ?? 'none';
        done(null, Buffer.from(serial));
      },
    });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', transport.credentials, (err, p) => (err ? reject(err) : resolve(p))));
    watcher = await TlsFileWatcher.open({ ...files(), caFile: ca.certFile, requireClientCert: false }, { recheckMs: 60_000, debounceMs: 10 });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    watcher?.close();
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
    closeTransport?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A new channel (a new connection) over the credentials, or the call on an existing one. */
  const channel = (creds: grpc.ChannelCredentials) => {
    // a local subchannel pool: grpc-js would otherwise hand the new channel the open connection
    const c = new grpc.Client(`127.0.0.1:${port}`, creds, { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(c);
    return c;
  };
  const who = (client: grpc.Client) =>
    new Promise<string>((resolve, reject) =>
      client.makeUnaryRequest(WHO.Who!.path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res!.toString()))),
    );

  it('presents the pair the files hold; a rotation reaches the next connection, an open one keeps its pair', async () => {
    const creds = grpcChannelCredentials(watcher);
    const open = channel(creds);
    expect(await who(open)).toBe(first.serial);

    // a half-written certificate (cert cut short, key unchanged): the last good pair stays
    fs.writeFileSync(files().certFile, second.cert.subarray(0, 200));
    await watcher.check();
    expect(watcher.material.cert.equals(first.cert)).toBe(true);
    expect(await who(channel(creds))).toBe(first.serial);

    // the new certificate whole but the old key still there (mismatched): still the last good pair
    replaceFile(second.cert, files().certFile);
    await watcher.check();
    expect(await who(channel(creds))).toBe(first.serial);

    // the key follows: the new pair is taken, and used by the next connection
    replaceFile(second.key, files().keyFile);
    await watcher.check();
    expect(watcher.material.cert.equals(second.cert)).toBe(true);
    expect(await who(channel(creds))).toBe(second.serial);
    // the connection opened before keeps the certificate it was made with
    expect(await who(open)).toBe(first.serial);
  });

  it('without a CA file the server is verified against the system roots (a private CA is then refused)', async () => {
    const noCa = await TlsFileWatcher.open({ ...files(), requireClientCert: false }, { recheckMs: 60_000 });
    try {
      await expect(who(channel(grpcChannelCredentials(noCa)))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    } finally {
      noCa.close();
    }
  });
});
