import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A listening `GET /metrics` endpoint. */
export interface MetricsServer {
  address: AddressInfo;
  /** `http://host:port/metrics` as bound (the real port when 0 was asked for). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` as Prometheus text at `GET /metrics` on its own listener, apart from any
 * public port; everything else is a plain 404. Port 0 picks a free port.
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) =>
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: a PM2 cluster worker binds its own port instead of sharing one through the
    // primary, so that each process can be scraped on its own.
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    address,
    url: `http://${shownHost}:${address.port}/metrics`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
