import { DisconnectsClientError } from 'redis';
import { keySlot } from './key-space.js';
import type { ScriptRunner } from './lua-script.js';
import { isClusterClient, type RedisClusterClient } from './redis-client.js';

type ScriptOpts = { keys: string[]; arguments: string[] };

/**
 * Runs scripts on a cluster by sending them straight to the connected master of their
 * first key's slot, without node-redis's per-command routing (policy lookup, command
 * parsing, several awaits), most of the cluster client's CPU in a profile of sends
 * (BENCHMARKS.md). A call goes through the cluster client instead when the slot has no
 * connected client yet, and again after a `MOVED`/`ASK` reply (the script was refused, not
 * run), which the cluster client follows and learns the new slot map from.
 *
 * A call that failed because the cluster client dropped its node's connection
 * (`DisconnectsClientError`: the slot map no longer names the node a master after a
 * failover, or no connection could be made) is sent once more through the cluster client.
 * It had waited in the dropped client's queue, or reached a node that had stopped taking
 * writes for the failover and would answer `MOVED`; the reply to a call run before that
 * comes back before the slot map changes. Other errors are the caller's, as from the
 * cluster client.
 */
export class SlotRoutedScripts implements ScriptRunner {
  constructor(private readonly cluster: RedisClusterClient) {}

  evalSha(sha: string, opts: ScriptOpts): Promise<unknown> {
    return this.route(opts, (runner) => runner.evalSha(sha, opts));
  }

  eval(script: string, opts: ScriptOpts): Promise<unknown> {
    return this.route(opts, (runner) => runner.eval(script, opts));
  }

  /** `call` on the slot's master client, or on the cluster client (see the class comment). */
  private async route(
    opts: ScriptOpts,
    call: (runner: ScriptRunner) => Promise<unknown>,
  ): Promise<unknown> {
    try {
      return await this.once(opts, call);
    } catch (err) {
      if (!(err instanceof DisconnectsClientError)) throw err;
      return call(this.cluster);
    }
  }

  private async once(
    opts: ScriptOpts,
    call: (runner: ScriptRunner) => Promise<unknown>,
  ): Promise<unknown> {
    const key = opts.keys[0];
    const client = key === undefined ? undefined : this.cluster.slots[keySlot(key)]?.master.client;
    if (!client?.isReady) return call(this.cluster);
    try {
      return await call(client);
    } catch (err) {
      if (isRedirect(err)) return call(this.cluster);
      throw err;
    }
  }
}

function isRedirect(err: unknown): boolean {
  return err instanceof Error && (err.message.startsWith('MOVED') || err.message.startsWith('ASK'));
}

/** One router per cluster client, shared by every class that runs scripts on it. */
const routers = new WeakMap<RedisClusterClient, SlotRoutedScripts>();

/** `runner` itself, or on a cluster client the {@link SlotRoutedScripts} of it. */
export function slotRouted(runner: ScriptRunner): ScriptRunner {
  if (!isClusterClient(runner)) return runner;
  let router = routers.get(runner);
  if (!router) {
    router = new SlotRoutedScripts(runner);
    routers.set(runner, router);
  }
  return router;
}
