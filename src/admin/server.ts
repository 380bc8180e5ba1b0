import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { secureContextOptions, TlsFileWatcher, type TlsFiles } from '../grpc/tls.js';
import { Router } from './router.js';
import { withCallerContext } from '../telemetry/tracing.js';

export interface AdminTlsOptions {
  tls?: TlsFiles;
  logger?: Logger;
  /** The certificate files' periodic re-check (besides fs.watch); default 10 s. */
  recheckMs?: number;
}

/**
 * Serves a Router over HTTP, or HTTPS when given TLS files. Binds to loopback unless told otherwise:
 * the admin API can change traffic. The files are followed: a rotation reaches new connections
 * (setSecureContext), a half-written file keeps the certificate being served.
 */
export class AdminServer {
  private server?: http.Server;
  private watcher?: TlsFileWatcher;

  constructor(
    private readonly router: Router,
    private readonly opts: AdminTlsOptions = {},
  ) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    // A change an admin request starts links to the request's trace, when it sent one.
    const handler: http.RequestListener = (req, res) => void withCallerContext(req.headers, () => this.router.handle(req, res));
    const tls = this.opts.tls;
    const watcher = tls ? await TlsFileWatcher.open(tls, { logger: this.opts.logger, recheckMs: this.opts.recheckMs }) : undefined;
    let server: http.Server;
    if (tls && watcher) {
      const secure = https.createServer(secureContextOptions(tls, watcher.material), handler);
      watcher.onChange((m) => {
        const { requestCert: _r, rejectUnauthorized: _u, ...context } = secureContextOptions(tls, m);
        secure.setSecureContext(context);
      });
      server = secure;
    } else server = http.createServer(handler);
    server.keepAliveTimeout = 5_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
    } catch (err) {
      watcher?.close();
      throw err;
    }
    this.server = server;
    this.watcher = watcher;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
