import assert from 'node:assert/strict';
import http from 'node:http';
import { pino } from 'pino';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisNodeClient } from '../../src/redis/redis-client.js';
import type { RedisEventBus } from '../../src/realtime/redis-event-bus.js';
import {
  REALTIME_DEFAULTS,
  resolveRealtimeOptions,
  type RealtimeServerOptions,
} from '../../src/realtime/realtime-options.js';

describe('resolveRealtimeOptions', function () {
  // Never connected: option checks must not touch Redis.
  const redis = {} as RedisNodeClient;
  const bus = {} as RedisEventBus;
  const base: RealtimeServerOptions = {
    server: http.createServer(),
    redis,
    keys: new RedisKeys('t:'),
    logger: pino({ level: 'silent' }),
    verifyToken: async () => ({ id: 'u', username: 'u' }),
    sendMessage: async () => {
      throw new Error('not called');
    },
  };

  it('fills in the documented defaults', function () {
    const o = resolveRealtimeOptions(base);
    assert.equal(o.path, '/ws');
    assert.equal(o.heartbeatMs, 30_000);
    assert.equal(o.maxBufferedBytes, 1024 * 1024);
    assert.equal(o.maxPayload, 64 * 1024);
    assert.equal(o.maxQueuedFrames, 32);
    assert.equal(o.closeGraceMs, 2000);
    assert.equal(o.maxConnectionsPerUser, 16);
    assert.deepEqual(o.allowedOrigins, []);
    assert.deepEqual(Object.keys(REALTIME_DEFAULTS).sort(), [
      'allowedOrigins',
      'closeGraceMs',
      'heartbeatMs',
      'maxBufferedBytes',
      'maxConnectionsPerUser',
      'maxPayload',
      'maxQueuedFrames',
      'path',
    ]);
  });

  it('keeps allowed origins as browsers send them (lower case), or ["*"]', function () {
    const o = resolveRealtimeOptions({
      ...base,
      allowedOrigins: ['https://Chat.Example.com', 'http://localhost:8080'],
    });
    assert.deepEqual(o.allowedOrigins, ['https://chat.example.com', 'http://localhost:8080']);
    assert.deepEqual(resolveRealtimeOptions({ ...base, allowedOrigins: ['*'] }).allowedOrigins, [
      '*',
    ]);
  });

  it('keeps given values and treats undefined as the default', function () {
    const o = resolveRealtimeOptions({ ...base, heartbeatMs: 500, maxBufferedBytes: undefined });
    assert.equal(o.heartbeatMs, 500);
    assert.equal(o.maxBufferedBytes, 1024 * 1024);
  });

  it('accepts a bus instead of redis and keys', function () {
    const o = resolveRealtimeOptions({ ...base, redis: undefined, keys: undefined, bus });
    assert.equal(o.bus, bus);
  });

  const invalid: Array<[string, Partial<RealtimeServerOptions>, RegExp]> = [
    ['bus with redis', { bus }, /either the "bus" option or the "redis" and "keys"/],
    ['redis without keys', { keys: undefined }, /"redis" and "keys" options are required/],
    ['no server', { server: undefined }, /"server"/],
    ['no verifyToken', { verifyToken: undefined }, /"verifyToken"/],
    ['no sendMessage', { sendMessage: 'x' as never }, /"sendMessage"/],
    ['a relative path', { path: 'ws' }, /"path"/],
    ['a path with a query', { path: '/ws?x=1' }, /"path"/],
    ['a zero heartbeat', { heartbeatMs: 0 }, /"heartbeatMs"/],
    ['a fractional heartbeat', { heartbeatMs: 1.5 }, /"heartbeatMs"/],
    ['a heartbeat timers cannot hold', { heartbeatMs: 2 ** 31 }, /"heartbeatMs"/],
    ['a negative buffer bound', { maxBufferedBytes: -1 }, /"maxBufferedBytes"/],
    ['a string payload limit', { maxPayload: '65536' as never }, /"maxPayload"/],
    ['no queued frames', { maxQueuedFrames: 0 }, /"maxQueuedFrames"/],
    ['NaN grace', { closeGraceMs: Number.NaN }, /"closeGraceMs"/],
    ['no connections per user', { maxConnectionsPerUser: 0 }, /"maxConnectionsPerUser"/],
    ['a fractional connection limit', { maxConnectionsPerUser: 2.5 }, /"maxConnectionsPerUser"/],
    ['origins as a string', { allowedOrigins: 'https://a.example' as never }, /"allowedOrigins"/],
    ['an origin with a path', { allowedOrigins: ['https://a.example/chat'] }, /"allowedOrigins"/],
    ['an origin without a scheme', { allowedOrigins: ['a.example'] }, /"allowedOrigins"/],
    ['* among origins', { allowedOrigins: ['*', 'https://a.example'] }, /"allowedOrigins"/],
  ];
  for (const [what, patch, message] of invalid) {
    it(`rejects ${what} with a TypeError`, function () {
      const opts = { ...base, ...patch } as RealtimeServerOptions;
      assert.throws(
        () => resolveRealtimeOptions(opts),
        (err: unknown) => {
          assert.ok(err instanceof TypeError);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
