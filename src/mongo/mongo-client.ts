import { MongoClient } from 'mongodb';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

/**
 * Creates (does not connect) a MongoDB client. The driver reconnects by itself; server
 * selection fails a single operation after `serverSelectionTimeoutMS`, so a request made
 * while MongoDB is down gets a quick error instead of hanging.
 */
export function createMongoClient(
  mongo: Config['mongo'],
  logger: Logger,
  opts: { appName: string; serverSelectionTimeoutMS?: number },
): MongoClient {
  const client = new MongoClient(mongo.uri, {
    appName: opts.appName,
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 2000,
    connectTimeoutMS: 5000,
    // Neither FerretDB 1.x nor a standalone mongod supports retryable writes; our writes
    // are idempotent (insert-if-absent, upserts) or fail loudly instead.
    retryWrites: false,
  });
  let down = false;
  client.on('serverHeartbeatFailed', (ev) => {
    if (!down) {
      logger.error(
        { mongo: mongo.safeUri, err: String(ev.failure?.message ?? ev.failure) },
        `MongoDB unreachable at ${mongo.safeUri}; the driver keeps retrying. ` +
          'Check that the server runs and MONGODB_URI is right.',
      );
    }
    down = true;
  });
  client.on('serverHeartbeatSucceeded', () => {
    if (down) logger.info({ mongo: mongo.safeUri }, 'MongoDB connection restored');
    down = false;
  });
  return client;
}

/**
 * Connects, retrying with backoff until it works or `signal` aborts; logs each failure
 * with the URI and what to check, rather than crashing (PM2 would restart-loop).
 */
export async function connectMongoWithRetry(
  client: MongoClient,
  mongo: Config['mongo'],
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      await client.db(mongo.db).command({ ping: 1 });
      return;
    } catch (err) {
      if (signal?.aborted) throw err;
      const delay = Math.min(200 * 2 ** Math.min(attempt, 5), 5000);
      logger.error(
        { mongo: mongo.safeUri, err: (err as Error).message, attempt },
        `MongoDB unreachable at ${mongo.safeUri}; retrying in ${delay} ms. ` +
          'Check that the server runs (npm start brings up a local one when MONGODB_URI is unset).',
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
