import { createClient } from 'redis';
import { MongoClient, type Db } from 'mongodb';
import WebSocket from 'ws';
import { ChatClient } from '../../client/index.js';
import { startApiServer, type ApiServer } from '../../src/app/api-server.js';
import type { Config } from '../../src/config/config.js';
import type { Logger } from '../../src/logging/logger.js';
import type { EventPublisher, MessageEvent } from '../../src/messages/message-events.js';
import { keySpaceOf, type KeySpace } from '../../src/redis/key-space.js';
import { escapeGlob, type RedisKeys } from '../../src/redis/keys.js';

/** An API process started in-process on port 0, recording the events it publishes. */
export interface TestApi {
  api: ApiServer;
  url: string;
  space: KeySpace;
  /** The keys of a single partition (`space.shared`): the tests run on one. */
  keys: RedisKeys;
  /** Every event the API published, oldest first; they reach ws clients as usual. */
  events: MessageEvent[];
  close(): Promise<void>;
}

/** How many users and messages the API's database holds (a refused request must add none). */
export async function storedCounts(
  t: TestApi,
  config: Config,
): Promise<{ users: number; messages: number }> {
  const db = t.api.mongo.db(config.mongo.db);
  const [users, messages] = await Promise.all([
    db.collection('users').countDocuments(),
    db.collection('messages').countDocuments(),
  ]);
  return { users, messages };
}

/** Records every event, then passes it on to the API's own bus (ws clients get it as usual). */
class RecordingPublisher implements EventPublisher {
  readonly events: MessageEvent[] = [];
  /** The API's bus, set once the API is started. */
  bus: EventPublisher | undefined;

  publish(event: MessageEvent): Promise<void> {
    this.events.push(event);
    if (!this.bus)
      return Promise.reject(new Error('an event was published before the API started'));
    return this.bus.publish(event);
  }
}

export async function startTestApi(config: Config, logger: Logger): Promise<TestApi> {
  const publisher = new RecordingPublisher();
  const space = keySpaceOf(config.redis);
  const api = await startApiServer(config, logger, { publisher });
  publisher.bus = api.realtime.publisher;
  await api.ready;
  return {
    api,
    url: api.url,
    space,
    keys: space.shared,
    events: publisher.events,
    close: () => api.close(),
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of many shapes, checked by the tests
  body: any;
}

/** One HTTP request; `body` is sent as JSON unless `raw` is given. */
export async function call(
  url: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined;
  if (opts.raw !== undefined) payload = opts.raw;
  else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** The whole body of an answer: parsed JSON, else its text (undefined when empty). */
export function readBody(res: NodeJS.ReadableStream): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve(text); // not JSON: the text
      }
    });
  });
}

/**
 * A ws upgrade with `headers`: `{ status: 101, ws }` when accepted (the caller closes `ws`),
 * else the status and JSON body of the refusal.
 */
export function wsUpgrade(
  url: string,
  headers: Record<string, string>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON error bodies, checked by the tests
): Promise<{ status: number; body?: any; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
    });
    ws.once('error', reject);
  });
}

export interface TestUser {
  id: string;
  username: string;
  token: string;
}

/** Signs `username` up with the typed client (the password is `correct horse`). */
export async function signupUser(url: string, username: string): Promise<TestUser> {
  const client = new ChatClient({ baseUrl: url });
  const { user, token } = await client.signup({ username, password: 'correct horse' });
  return { id: user.id, username, token };
}

/** A plain Redis client for looking at what the API stored. */
export async function inspectRedis(config: Config) {
  const client = createClient({ url: config.redis.url, database: config.redis.db });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The test's MongoDB database, for looking at what the API stored. */
export async function inspectMongo(config: Config): Promise<{ db: Db; close(): Promise<void> }> {
  const client = new MongoClient(config.mongo.uri, { serverSelectionTimeoutMS: 2000 });
  await client.connect();
  return { db: client.db(config.mongo.db), close: () => client.close() };
}

/** Removes a prefix's keys (for tests whose MongoDB is gone, so cleanup() cannot run). */
export async function clearRedisPrefix(config: Config): Promise<void> {
  const redis = await inspectRedis(config);
  for await (const keys of redis.scanIterator({
    MATCH: `${escapeGlob(config.redis.keyPrefix)}*`,
    COUNT: 1000,
  })) {
    if (keys.length) await redis.unlink(keys);
  }
  await redis.close();
}
