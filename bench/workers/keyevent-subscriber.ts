/**
 * Baseline process of expiry-lag-background: the guide's design, a plain subscriber to
 * `__keyevent@0__:expired`. Keys are named `kev:<deadline ms>:<n>` by the generator, so the
 * lag of each event is its arrival time minus the deadline in its name. Reports the lags
 * when the parent says 'stop'.
 * Env: REDIS_URL.
 */
import { createClient } from 'redis';
import { env, runWorker, tell, whenParentSays } from './worker-ipc.js';

runWorker(async () => {
  const sub = createClient({ url: env('REDIS_URL') });
  await sub.connect();
  await sub.configSet('notify-keyspace-events', 'Ex');
  const lags: number[] = [];
  await sub.subscribe('__keyevent@0__:expired', (key) => {
    if (!key.startsWith('kev:')) return;
    const deadline = Number(key.split(':')[1]);
    lags.push(Date.now() - deadline);
  });
  tell({ type: 'ready' });
  // The parent polls the count while it waits for stragglers.
  const timer = setInterval(() => tell({ type: 'progress', data: lags.length }), 500);
  await whenParentSays('stop');
  clearInterval(timer);
  await sub.close();
  tell({ type: 'result', data: { lags } });
});
