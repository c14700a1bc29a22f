import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A named readiness check: resolves when the component can do its work. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface OpsServerOptions {
  registry: Registry;
  /** 0 picks a free port. */
  port: number;
  host?: string;
}

/**
 * The operations endpoints every Mamori process serves:
 * - `GET /metrics`: Prometheus exposition of the process's registry;
 * - `GET /healthz`: 200 while the process is alive and not shutting down;
 * - `GET /readyz`: 200 when every registered readiness check passes, 503 with the failing names.
 */
export class OpsServer {
  private readonly server: Server;
  private readonly checks = new Map<string, ReadinessCheck>();
  private shuttingDown = false;

  constructor(private readonly options: OpsServerOptions) {
    this.server = createServer((req, res) => {
      void this.route(req.method ?? 'GET', (req.url ?? '/').split('?')[0] ?? '/').then(
        ({ status, body, type }) => {
          res.writeHead(status, { 'content-type': type });
          res.end(body);
        },
        () => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        },
      );
    });
  }

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** From now on /healthz and /readyz report 503, so load balancers stop sending work. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(method: string, path: string): Promise<{ status: number; body: string; type: string }> {
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: 'method not allowed\n', type: 'text/plain' };
    switch (path) {
      case '/metrics':
        return { status: 200, body: await this.options.registry.metrics(), type: this.options.registry.contentType };
      case '/healthz':
        return this.shuttingDown
          ? { status: 503, body: 'shutting down\n', type: 'text/plain' }
          : { status: 200, body: 'ok\n', type: 'text/plain' };
      case '/readyz': {
        if (this.shuttingDown) return { status: 503, body: 'shutting down\n', type: 'text/plain' };
        const failing: string[] = [];
        for (const [name, check] of this.checks) {
          let ok = false;
          try {
            ok = await check();
          } catch {
            ok = false;
          }
          if (!ok) failing.push(name);
        }
        return failing.length === 0
          ? { status: 200, body: 'ready\n', type: 'text/plain' }
          : { status: 503, body: `not ready: ${failing.join(', ')}\n`, type: 'text/plain' };
      }
      default:
        return { status: 404, body: 'not found\n', type: 'text/plain' };
    }
  }
}
