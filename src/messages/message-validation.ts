import { z } from 'zod';
import { AppError } from '../errors/app-error.js';

/** MongoDB ObjectId in hex: the only id form the API accepts. */
export const OBJECT_ID_RE = /^[0-9a-f]{24}$/;

/** Idempotency keys (the `Idempotency-Key` header or `clientMsgId`). */
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;

export const MAX_CONTENT_LENGTH = 5000;

const content = z
  .string()
  .max(MAX_CONTENT_LENGTH, `must be at most ${MAX_CONTENT_LENGTH} characters`)
  .refine((s) => s.trim().length > 0, 'must not be empty');

const httpUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((s) => {
    if (!URL.canParse(s)) return false;
    const protocol = new URL(s).protocol;
    return protocol === 'http:' || protocol === 'https:';
  }, 'must be an http(s) URL');

/** Body of `POST /api/messages/send` (and of the ws `message:send` frame). */
export const sendMessageSchema = z
  .strictObject({
    // Its form is checked after parsing, so a malformed id is INVALID_ID, not VALIDATION_FAILED.
    receiverId: z.string(),
    content: content.nullish(),
    imageUrl: httpUrl.nullish(),
    publicId: z.string().min(1).max(256, 'must be at most 256 characters').nullish(),
    clientMsgId: z
      .string()
      .regex(IDEMPOTENCY_KEY_RE, 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -')
      .optional(),
  })
  .refine((b) => b.content != null || b.imageUrl != null, {
    message: 'content or imageUrl is required',
    path: ['content'],
  });

export type SendMessageInput = z.output<typeof sendMessageSchema>;

/** Body of `PATCH /api/messages/item/:messageId`. */
export const editMessageSchema = z.strictObject({ content });

/** Query of `GET /api/messages/:receiverId`. */
export const conversationQuerySchema = z.strictObject({
  before: z.string().optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'))
    .optional(),
});

/** Checks a path or query id; 400 `INVALID_ID` naming `what` otherwise. */
export function assertObjectId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !OBJECT_ID_RE.test(value)) {
    throw new AppError('INVALID_ID', `${what} must be 24 hex characters`);
  }
  return value;
}
