import net from 'node:net';
import { sleep } from '../../../src/lifecycle/wait.js';

/**
 * A TCP forwarder on 127.0.0.1 used to cut the network between a process and a server
 * (the daemons and Redis): every accepted connection is piped to `target`, and
 * {@link cut} drops them all and refuses new ones for a while, as a network partition does.
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private refuseUntil = 0;
  /** Connections accepted since start (including refused ones). */
  accepted = 0;
  /** Connections refused during cuts. */
  refused = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
    server: net.Server,
  ) {
    this.server = server;
  }

  /** Listens on `127.0.0.1:port` (0 = any free port) and forwards to `target`. */
  static async start(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address() as net.AddressInfo;
    const proxy = new TcpProxy(target, addr.port, server);
    server.on('connection', (client) => proxy.onConnection(client));
    return proxy;
  }

  /** Open forwarded connections. */
  get connections(): number {
    return this.pairs.size;
  }

  /**
   * Drops every forwarded connection (RST to both ends) and refuses new ones for `ms`.
   * Resolves when the cut is over.
   */
  async cut(ms: number): Promise<void> {
    this.refuseUntil = Date.now() + ms;
    for (const pair of [...this.pairs]) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.pairs.clear();
    await sleep(ms);
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(client: net.Socket): void {
    this.accepted++;
    if (Date.now() < this.refuseUntil) {
      // Accepting and resetting at once looks like a refusal to the client (ECONNRESET at
      // connect), and keeps the port ours during the cut.
      this.refused++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.target);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // Errors on either side end the pair; without listeners they would crash the test.
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
