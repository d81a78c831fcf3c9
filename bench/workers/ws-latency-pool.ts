/**
 * Load process of ws-10k: holds a share of the sockets (several of these run side by side so
 * that one process's event loop is not the bottleneck), sends `message:send` frames from its
 * users' sockets, and measures each `message:new` frame's delivery latency: the frame's
 * content carries its send time (`performance.timeOrigin + performance.now()`, a wall-clock
 * reading in ms that agrees across processes of one machine), subtracted from the receive time.
 *
 * Commands from the parent (each answered by one 'result', except 'stop'):
 * - `open { urls, senders }`: opens the sockets (`urls[i]`) 100 at a time; `senders[k]` says
 *   which socket sends, to whom. Answered by `{ open, ms }`.
 * - `paced { phase, rate, seconds, drainMs }`: open loop, `rate` sends/s for `seconds`,
 *   round the senders; then waits `drainMs` for the last frames. Answered by
 *   {@link PhaseResult} with the latencies of this phase's frames (ms).
 * - `saturate { phase, seconds, inFlight }`: closed loop, `inFlight` sends awaiting their ack
 *   at any time; frames of this phase counted over `seconds`. Answered by {@link PhaseResult}.
 * - `stats`: `{ open, closed, pings }` (pings: heartbeat pings the server sent the sockets).
 * - `stop`: terminates the sockets and exits.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { sleep } from '../../src/lifecycle/wait.js';
import { runWorker, tell } from './worker-ipc.js';

/** Which of the pool's sockets sends, and to whom. */
export interface PoolSender {
  socket: number;
  receiverId: string;
}

/** What a send phase reports. */
export interface PhaseResult {
  sent: number;
  acked: number;
  /** `error` frames (e.g. RATE_LIMITED), by code. */
  errors: Record<string, number>;
  /** `message:new` frames of this phase received by this pool's sockets. */
  received: number;
  /** Delivery latencies of the received frames, ms (paced phases only). */
  latencies: Float64Array;
  /** Largest delay of a paced send behind its schedule, ms (the pool falling behind). */
  maxSendLagMs: number;
  seconds: number;
}

/** What the scenario asks a pool (over IPC). */
export type Command =
  | { type: 'open'; urls: string[]; senders: PoolSender[] }
  | { type: 'paced'; phase: string; rate: number; seconds: number; drainMs: number }
  | { type: 'saturate'; phase: string; seconds: number; inFlight: number }
  | { type: 'stats' }
  | { type: 'stop' };

const now = () => performance.timeOrigin + performance.now();
const CONTENT_MARK = '"content":"ws10k ';

runWorker(async () => {
  const sockets: WebSocket[] = [];
  let senders: PoolSender[] = [];
  let closed = 0;
  let pings = 0;
  let stopping = false;

  /** The phase being measured; frames of other phases (late ones) are not counted. */
  let phase = '';
  let received = 0;
  let acked = 0;
  let errors: Record<string, number> = {};
  let latencies: number[] = [];
  let recordLatency = false;
  let onAck: (() => void) | undefined;

  function onFrame(data: Buffer): void {
    const t = now();
    const text = data.toString();
    if (text.startsWith('{"type":"message:new"')) {
      // Content is `ws10k <phase> <send time>`: read without parsing the whole frame.
      const at = text.indexOf(CONTENT_MARK);
      if (at < 0) return;
      const start = at + CONTENT_MARK.length;
      const end = text.indexOf('"', start);
      const [p, stamp] = text.slice(start, end).split(' ');
      if (p !== phase) return;
      received++;
      if (recordLatency) latencies.push(t - Number(stamp));
      return;
    }
    if (text.startsWith('{"type":"message:ack"')) {
      acked++;
      onAck?.();
      return;
    }
    if (text.startsWith('{"type":"error"')) {
      const code = (JSON.parse(text) as { code?: string }).code ?? '?';
      errors[code] = (errors[code] ?? 0) + 1;
      onAck?.();
    }
  }

  async function open(urls: string[]): Promise<void> {
    for (let i = 0; i < urls.length; i += 100) {
      const slice = urls.slice(i, i + 100).map(
        (url) =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(url);
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
            ws.on('message', onFrame);
            ws.on('ping', () => pings++);
            ws.on('close', () => {
              if (!stopping) closed++;
            });
          }),
      );
      sockets.push(...(await Promise.all(slice)));
    }
  }

  let nextSender = 0;
  function sendOne(): void {
    const s = senders[nextSender++ % senders.length] as PoolSender;
    const ws = sockets[s.socket] as WebSocket;
    ws.send(
      `{"type":"message:send","receiverId":"${s.receiverId}","content":"ws10k ${phase} ${now()}"}`,
    );
  }

  function startPhase(name: string, latency: boolean): void {
    phase = name;
    received = 0;
    acked = 0;
    errors = {};
    latencies = [];
    recordLatency = latency;
  }

  function endPhase(sent: number, maxSendLagMs: number, seconds: number): PhaseResult {
    const result: PhaseResult = {
      sent,
      acked,
      errors,
      received,
      latencies: Float64Array.from(latencies),
      maxSendLagMs,
      seconds,
    };
    phase = '';
    onAck = undefined;
    latencies = [];
    return result;
  }

  async function paced(name: string, rate: number, seconds: number, drainMs: number) {
    startPhase(name, true);
    const start = now();
    const total = Math.round(rate * seconds);
    let sent = 0;
    let maxLag = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const elapsed = now() - start;
        const due = Math.min(total, Math.floor((elapsed / 1000) * rate));
        if (due > sent) maxLag = Math.max(maxLag, elapsed - (sent / rate) * 1000);
        while (sent < due) {
          sendOne();
          sent++;
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    await sleep(drainMs);
    return endPhase(sent, maxLag, seconds);
  }

  async function saturate(name: string, seconds: number, inFlight: number) {
    startPhase(name, false);
    let sent = 0;
    let running = true;
    onAck = () => {
      if (!running) return;
      sendOne();
      sent++;
    };
    for (let i = 0; i < inFlight; i++) {
      sendOne();
      sent++;
    }
    await sleep(seconds * 1000);
    running = false;
    const counted = received;
    const result = endPhase(sent, 0, seconds);
    result.received = counted;
    return result;
  }

  await new Promise<void>((resolve) => {
    process.on('message', (m: Command) => {
      void (async () => {
        switch (m.type) {
          case 'open': {
            const t0 = Date.now();
            senders = m.senders;
            await open(m.urls);
            tell({ type: 'result', data: { open: sockets.length, ms: Date.now() - t0 } });
            break;
          }
          case 'paced':
            tell({ type: 'result', data: await paced(m.phase, m.rate, m.seconds, m.drainMs) });
            break;
          case 'saturate':
            tell({ type: 'result', data: await saturate(m.phase, m.seconds, m.inFlight) });
            break;
          case 'stats':
            tell({ type: 'result', data: { open: sockets.length - closed, closed, pings } });
            break;
          case 'stop':
            stopping = true;
            for (const ws of sockets) ws.terminate();
            resolve();
            break;
        }
      })().catch((err: unknown) => {
        tell({ type: 'error', message: err instanceof Error ? (err.stack ?? '') : String(err) });
      });
    });
    process.once('disconnect', () => resolve());
    tell({ type: 'ready' });
  });
});
