import type { Logger } from '../logging/logger.js';
import type { Client, ConnectionRegistry } from './connection-registry.js';

/**
 * Pings every socket that receives events each `intervalMs`, and terminates those that did
 * not answer the previous ping: a vanished peer sends no close.
 */
export class Heartbeat {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly registry: ConnectionRegistry,
    intervalMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.beat(), intervalMs);
    // The heartbeat alone must not keep a process alive.
    this.timer.unref();
  }

  /** Counts the client's pongs as answers. */
  watch(client: Client): void {
    client.ws.on('pong', () => {
      client.alive = true;
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    for (const client of this.registry.receivers()) {
      if (!client.alive) {
        this.log.debug({ userId: client.user.id }, 'terminating a ws client that missed a ping');
        this.registry.forget(client);
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }
}
