import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A reverse proxy started by {@link startAppendingProxy}. */
export interface AppendingProxy {
  /** `http://127.0.0.1:port`: where clients (or an outer proxy) send their requests. */
  url: string;
  close(): Promise<void>;
}

export interface AppendingProxyOptions {
  /** Base URL requests are forwarded to (the API, or the next proxy inward). */
  target: string;
  /**
   * Local address of the proxy's connections to `target` (any loopback address on Linux),
   * so that the next hop sees this proxy under an address of its own. @defaultValue the OS's
   */
  localAddress?: string;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded, as a proxy would not.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * A minimal reverse proxy like nginx with
 * `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`: it forwards method, path,
 * headers and body, appends the address of the connection it received to `X-Forwarded-For`
 * (`a, b` → `a, b, <address>`; none → `<address>`), and pipes the response back.
 */
export async function startAppendingProxy(opts: AppendingProxyOptions): Promise<AppendingProxy> {
  const target = new URL(opts.target);
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    // Node joins repeated X-Forwarded-For headers with ", ", as nginx's $http_x_forwarded_for does.
    const seen = req.headers['x-forwarded-for'];
    const address = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = seen ? `${seen}, ${address}` : address;
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        localAddress: opts.localAddress,
        agent: false,
      },
      (answer) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
