import { createHash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { buildAsyncApiDocument } from '../../contract/asyncapi-document.js';
import { buildOpenApiDocument } from '../../contract/openapi-document.js';

/** The documents {@link contractRoutes} serves. */
export interface ContractDocuments {
  /** `GET /openapi.json`. @defaultValue buildOpenApiDocument() */
  openapi?: unknown;
  /** `GET /asyncapi.json`. @defaultValue buildAsyncApiDocument() */
  asyncapi?: unknown;
}

/** A document serialized once, with its strong ETag. */
interface JsonDocument {
  body: Buffer;
  etag: string;
}

function serialize(doc: unknown): JsonDocument {
  const body = Buffer.from(JSON.stringify(doc));
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

/**
 * The API contract: `GET /openapi.json` (the REST API, OpenAPI 3.1) and `GET /asyncapi.json`
 * (the ws protocol, AsyncAPI 3.0), built from src/contract once, when the routes are made.
 * As the pages: an ETag and `Cache-Control: no-cache`, so clients revalidate and get a 304
 * while the API is the same.
 */
export function contractRoutes(docs: ContractDocuments = {}): Router {
  const openapi = serialize(docs.openapi ?? buildOpenApiDocument());
  const asyncapi = serialize(docs.asyncapi ?? buildAsyncApiDocument());
  const router = new Router();
  router.get('/openapi.json', (ctx) => send(ctx, openapi));
  router.get('/asyncapi.json', (ctx) => send(ctx, asyncapi));
  return router;
}

function send(ctx: Context, doc: JsonDocument): void {
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.type = 'application/json; charset=utf-8';
  ctx.etag = doc.etag;
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  ctx.body = doc.body;
}
