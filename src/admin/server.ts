import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from './router.js';

/** Serves a Router over HTTP. Binds to loopback unless told otherwise: the admin API can change traffic. */
export class AdminServer {
  private server?: http.Server;

  constructor(private readonly router: Router) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer((req, res) => void this.router.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
