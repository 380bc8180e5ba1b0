import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { frameMessage } from '../../src/grpc/wire.js';
import { decodeMessage, encodeMessage } from '../../src/proto/envoy.js';

/** Encodes `value` as `typeName`, frames it and writes it where h2load's `-d` can read it. */
export function writeGrpcBody(dir: string, name: string, typeName: string, value: object): { file: string; message: Buffer } {
  const message = Buffer.from(encodeMessage(typeName, value));
  const file = path.join(dir, `${name}.grpc`);
  fs.writeFileSync(file, frameMessage(message));
  return { file, message };
}

/**
 * One grpc-js call of exactly the bytes h2load will send. gRPC answers HTTP 200 even for errors
 * (the status is in the trailers, which h2load does not read), so this is what proves the body is
 * understood: it rejects on any grpc-status other than OK and returns the decoded response.
 */
export function probeCall<T>(port: number, methodPath: string, message: Buffer, responseType: string): Promise<T> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<T>((resolve, reject) => {
    client.makeUnaryRequest(
      methodPath,
      (b: Buffer) => b,
      (b: Buffer) => b,
      message,
      (err, res) => {
        client.close();
        if (err) reject(new Error(`${methodPath} on :${port}: grpc-status ${err.code} ${err.details}`));
        else resolve(decodeMessage<T>(responseType, res!));
      },
    );
  });
}
