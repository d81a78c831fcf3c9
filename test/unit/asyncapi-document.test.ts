import assert from 'node:assert/strict';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { z } from 'zod';
import {
  WS_CLOSE_CODES,
  WS_HANDSHAKE_REFUSALS,
  buildAsyncApiDocument,
  wsErrorCodes,
} from '../../src/contract/asyncapi-document.js';
import * as wsFrames from '../../src/contract/ws-frames.js';
import {
  CLIENT_FRAME_TYPES,
  CLOSE_GOING_AWAY,
  CLOSE_TRY_AGAIN_LATER,
  SERVER_FRAME_TYPES,
  clientFrameSchema,
  errorFrameSchema,
  messageEventFrameSchema,
  serverFrameSchema,
} from '../../src/contract/ws-frames.js';
import { AppError } from '../../src/errors/app-error.js';
import { ERROR_CODES } from '../../src/errors/error-codes.js';
import type { MessageEvent } from '../../src/messages/message-events.js';
import { eventFrame } from '../../src/realtime/event-codec.js';
import { errorFrame } from '../../src/realtime/frame-handler.js';
import { parseClientFrame } from '../../src/realtime/parse-client-frame.js';
import { newMessage } from '../helpers/new-message.js';

type Json = Record<string, unknown>;

/** The document as a client gets it from GET /asyncapi.json. */
const doc = JSON.parse(JSON.stringify(buildAsyncApiDocument())) as Json;

const channel = (doc.channels as Record<string, Json>).chat!;
const components = doc.components as Record<string, Record<string, Json>>;

/** The frame `type` each message of the channel carries, by message key. */
function frameTypes(): Map<string, string> {
  const types = new Map<string, string>();
  for (const key of Object.keys(channel.messages as Json)) {
    const message = components.messages![key]!;
    const ref = (message.payload as { $ref: string }).$ref;
    const schema = components.schemas![ref.split('/').pop()!]!;
    const type = (schema.properties as Record<string, { const?: string }>).type?.const;
    assert.ok(type, `${key}: no const type`);
    types.set(key, type);
  }
  return types;
}

/** The frame types the operations send (client → server) and receive or reply with. */
function operationTypes(): { sent: Set<string>; received: Set<string> } {
  const types = frameTypes();
  const typeOf = (ref: { $ref: string }) => types.get(ref.$ref.split('/').pop()!)!;
  const sent = new Set<string>();
  const received = new Set<string>();
  for (const op of Object.values(doc.operations as Record<string, Json>)) {
    const messages = (op.messages as Array<{ $ref: string }>).map(typeOf);
    const replies = ((op.reply as Json | undefined)?.messages ?? []) as Array<{ $ref: string }>;
    for (const t of messages) (op.action === 'send' ? sent : received).add(t);
    for (const t of replies.map(typeOf)) received.add(t);
  }
  return { sent, received };
}

describe('the AsyncAPI document (GET /asyncapi.json)', function () {
  it('is a valid AsyncAPI 3.0 document for the parser', async function () {
    this.timeout(20000);
    assert.equal(doc.asyncapi, '3.0.0');
    const diagnostics = await new Parser().validate(JSON.stringify(doc));
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
    assert.deepEqual(
      errors.map((d) => `${d.path.join('.')}: ${d.message}`),
      [],
      'errors of the AsyncAPI parser',
    );
  });

  it('describes every frame the parser accepts and the server sends, in its direction', function () {
    const { sent, received } = operationTypes();
    assert.deepEqual([...sent].sort(), [...CLIENT_FRAME_TYPES].sort());
    assert.deepEqual([...received].sort(), [...SERVER_FRAME_TYPES].sort());
    assert.deepEqual(
      [...frameTypes().values()].sort(),
      [...CLIENT_FRAME_TYPES, ...SERVER_FRAME_TYPES].sort(),
    );
  });

  it('lists the frame types parseClientFrame accepts, and no other', function () {
    for (const option of clientFrameSchema.options) {
      // zod-openapi types `examples` loosely: the contract gives each frame an array.
      for (const example of (option.meta()?.examples as unknown[] | undefined) ?? []) {
        const parsed = parseClientFrame(Buffer.from(JSON.stringify(example)), false);
        assert.ok(parsed.ok, JSON.stringify(example));
        assert.equal(parsed.frame.type, option.shape.type.value);
      }
    }
    for (const type of ['pong', 'message:new', 'message:ack', 'subscribe']) {
      const parsed = parseClientFrame(Buffer.from(JSON.stringify({ type })), false);
      assert.ok(!parsed.ok && parsed.error.code === 'UNKNOWN_TYPE', type);
    }
  });

  it('has the shapes of the frames the server really makes', function () {
    const message = newMessage('6b17795be1273f5759a86a01', '6b17795be1273f5759a86a02', 'hi');
    const events: MessageEvent[] = [
      { type: 'message:new', message, recipients: [message.receiverId] },
      {
        type: 'message:updated',
        message: { ...message, updatedAt: new Date().toISOString() },
        recipients: [message.receiverId],
      },
      {
        type: 'message:deleted',
        message: { id: message.id, senderId: message.senderId, receiverId: message.receiverId },
        recipients: [message.receiverId],
      },
    ];
    for (const event of events) {
      const frame: unknown = JSON.parse(eventFrame(event));
      assert.ok(messageEventFrameSchema.safeParse(frame).success, eventFrame(event));
      assert.ok(serverFrameSchema.safeParse(frame).success, eventFrame(event));
    }
    const limited = new AppError('RATE_LIMITED', 'slow down', { headers: { 'Retry-After': '3' } });
    for (const err of [limited, new AppError('UNKNOWN_TYPE'), new Error('a bug')]) {
      for (const id of ['c-1', undefined]) {
        const frame = JSON.parse(JSON.stringify(errorFrame(err, id))) as unknown;
        assert.ok(errorFrameSchema.safeParse(frame).success, JSON.stringify(frame));
      }
    }
  });

  it('has examples that its schemas accept', function () {
    let checked = 0;
    for (const [name, value] of Object.entries(wsFrames)) {
      if (!(value instanceof z.ZodType)) continue;
      for (const example of (value.meta()?.examples ?? []) as unknown[]) {
        const result = value.safeParse(example);
        assert.ok(result.success, `${name}: ${JSON.stringify(example)}: ${result.error?.message}`);
        checked++;
      }
    }
    assert.ok(checked >= 10, `only ${checked} examples`);
  });

  it('gives the handshake refusals with the statuses of the registry', function () {
    const refusals = channel['x-handshake-refusals'] as Array<{ status: number; code?: string }>;
    assert.deepEqual(
      refusals.map((r) => [r.status, r.code]),
      WS_HANDSHAKE_REFUSALS.map((r) => [r.status, r.code]),
    );
    for (const r of WS_HANDSHAKE_REFUSALS) {
      if (r.code) assert.equal(r.status, ERROR_CODES[r.code].status, r.code);
    }
    // ws's own refusals of a malformed handshake, after the gate's.
    assert.deepEqual(
      refusals.filter((r) => r.code === undefined).map((r) => r.status),
      [405, 400],
    );
    for (const code of [
      'UNAUTHORIZED',
      'FORBIDDEN',
      'TOO_MANY_CONNECTIONS',
      'SERVICE_UNAVAILABLE',
    ]) {
      assert.ok(
        refusals.some((r) => r.code === code),
        code,
      );
    }
  });

  it('gives the close codes, the heartbeat and the error frame codes', function () {
    const codes = (channel['x-close-codes'] as Array<{ code: number }>).map((c) => c.code);
    assert.deepEqual(
      codes,
      WS_CLOSE_CODES.map((c) => c.code),
    );
    for (const code of [CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN_LATER, 1007, 1009]) {
      assert.ok(codes.includes(code), String(code));
    }
    assert.equal((channel['x-heartbeat'] as Json).pingIntervalMs, 30_000);
    const error = components.messages!.error!;
    assert.deepEqual(error['x-error-codes'], wsErrorCodes());
    for (const code of wsErrorCodes()) assert.ok(code in ERROR_CODES, code);
    assert.ok(wsErrorCodes().includes('UNKNOWN_TYPE'));
  });
});
