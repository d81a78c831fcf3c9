import type { LoadRequest, LoadResult } from '../workers/autocannon-run.js';
import { NodeChild } from './child.js';
import type { ScenarioContext } from './scenario.js';

export type { LoadRequest, LoadResult };

/**
 * Runs autocannon in its own process against `url` with `requests` cycled per connection
 * (a 1-second warm-up, then the measured run); throws when more than 1% of the answers were
 * not 2xx, since the figure would then measure errors.
 */
export async function httpLoad(
  ctx: ScenarioContext,
  url: string,
  requests: LoadRequest[],
  opts: { warmupSeconds?: number } = {},
): Promise<LoadResult> {
  const { connections, httpSeconds } = ctx.options;
  const child = new NodeChild('autocannon', 'bench/workers/autocannon-run.ts', {
    env: {
      URL: url,
      CONNECTIONS: String(connections),
      SECONDS: String(httpSeconds),
      WARMUP_SECONDS: String(opts.warmupSeconds ?? 1),
    },
  });
  await child.next('ready', 30000);
  child.send({ requests });
  const result = await child.next<LoadResult>('result', (httpSeconds + 60) * 1000);
  await child.waitExit(10000);
  if (result.non2xx + result.errors > result.total * 0.01) {
    throw new Error(
      `${url}: ${result.non2xx} non-2xx answers and ${result.errors} errors of ${result.total}`,
    );
  }
  return result;
}
