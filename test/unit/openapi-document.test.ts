import assert from 'node:assert/strict';
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import { z } from 'zod';
import { createApiRouters, type ApiRoutersDeps } from '../../src/app/api-routers.js';
import { buildAsyncApiDocument } from '../../src/contract/asyncapi-document.js';
import { HTTP_ROUTES, resolvedResponses, routeErrorCodes } from '../../src/contract/http-routes.js';
import * as httpSchemas from '../../src/contract/http-schemas.js';
import { errorBodySchema, errorExample } from '../../src/contract/http-schemas.js';
import { buildOpenApiDocument } from '../../src/contract/openapi-document.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/error-codes.js';
import { documentSchemas, fragmentOf, openApiSchemaObjects } from '../helpers/document-schemas.js';

type Json = Record<string, unknown>;

/** The document as a client gets it from GET /openapi.json. */
const doc = JSON.parse(JSON.stringify(buildOpenApiDocument())) as Json;

/** `GET /api/messages/item/{messageId}` from the router's `/api/messages/item/:messageId`. */
function openApiPath(routerPath: string): string {
  return routerPath.replace(/[:*](\w+)/g, '{$1}');
}

/**
 * The routes the API's routers register, as `METHOD path` in OpenAPI form (HEAD, which
 * @koa/router adds to every GET, left out), with whether each requires a token. The routers
 * are built as startApiServer builds them; building one calls none of its dependencies.
 */
function registeredRoutes(): Map<string, { auth: boolean }> {
  const routers: Router[] = createApiRouters({} as ApiRoutersDeps);
  const routes = new Map<string, { auth: boolean }>();
  for (const router of routers) {
    for (const layer of router.stack) {
      // requireAuth's middleware, first on each route that needs a token.
      const auth = layer.stack.some((fn) => fn.name === 'authenticate');
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        routes.set(`${method} ${openApiPath(String(layer.path))}`, { auth });
      }
    }
  }
  return routes;
}

/** Every operation of the document: `METHOD path` → operation. */
function documentedOperations(): Map<string, Json> {
  const ops = new Map<string, Json>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item))
      ops.set(`${method.toUpperCase()} ${path}`, op as Json);
  }
  return ops;
}

/** The `code` enums of every error answer in the document (operations and components). */
function documentedErrorCodes(): Set<string> {
  const codes = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    const o = value as Json;
    const props = o.properties as Json | undefined;
    const error = props?.error as Json | undefined;
    const code = (error?.properties as Json | undefined)?.code as Json | undefined;
    if (Array.isArray(code?.enum)) for (const c of code.enum) codes.add(String(c));
    Object.values(o).forEach(visit);
  };
  visit(doc.paths);
  visit((doc.components as Json).responses);
  return codes;
}

describe('the OpenAPI document (GET /openapi.json)', function () {
  it('is a valid OpenAPI 3.1 document', async function () {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc);
    assert.deepEqual(result, { valid: true }, JSON.stringify(result.errors, null, 2));
  });

  it('holds schemas that are valid JSON Schema 2020-12 and resolve', function () {
    const schemas = documentSchemas(doc);
    let count = 0;
    for (const [pointer, schema] of openApiSchemaObjects(doc)) {
      count++;
      assert.equal(schemas.metaErrors(schema), undefined, fragmentOf(pointer));
      assert.doesNotThrow(() => schemas.validator(pointer), fragmentOf(pointer));
    }
    assert.ok(count > 50, `only ${count} schemas found`);
  });

  it('lists exactly the routes the routers register, with their auth (by construction)', function () {
    const registered = registeredRoutes();
    const documented = documentedOperations();
    const missing = [...registered.keys()].filter((r) => !documented.has(r));
    assert.deepEqual(missing, [], 'routes without an entry in src/contract/http-routes.ts');
    const extra = [...documented.keys()].filter((r) => !registered.has(r));
    assert.deepEqual(extra, [], 'documented operations that no router has');
    for (const [route, { auth }] of registered) {
      const op = documented.get(route)!;
      assert.equal(Array.isArray(op.security) && op.security.length > 0, auth, `${route}: auth`);
    }
  });

  it('names every error code of the registry', function () {
    const component = (doc.components as Json).schemas as Record<string, Json>;
    assert.deepEqual(component.ErrorCode?.enum, Object.keys(ERROR_CODES));
    const inAnswers = documentedErrorCodes();
    // The ws-only codes (an unknown frame type, the upgrade's connection limit) are in the
    // AsyncAPI document instead.
    const asyncapi = JSON.stringify(buildAsyncApiDocument());
    for (const code of Object.keys(ERROR_CODES)) {
      assert.ok(
        inAnswers.has(code) || asyncapi.includes(`"${code}"`),
        `${code} is answered nowhere in the documents`,
      );
    }
    assert.deepEqual(
      Object.keys(ERROR_CODES).filter((c) => !inAnswers.has(c)),
      ['UNKNOWN_TYPE', 'TOO_MANY_CONNECTIONS'],
    );
  });

  it("answers each route's error codes with the status of the registry and their examples", function () {
    for (const route of HTTP_ROUTES) {
      const op = documentedOperations().get(`${route.method.toUpperCase()} ${route.path}`)!;
      const responses = op.responses as Record<string, Json>;
      for (const code of routeErrorCodes(route)) {
        const status = String(ERROR_CODES[code].status);
        const res = responses[status];
        assert.ok(res, `${route.operationId}: no ${status} for ${code}`);
        const media = (res.content as Record<string, Json>)['application/json'];
        const examples = media?.examples as Record<string, { value: unknown }>;
        assert.deepEqual(examples[code]?.value, errorExample(code), `${route.operationId} ${code}`);
      }
      for (const [status, resolved] of resolvedResponses(route)) {
        assert.ok(responses[String(status)], `${route.operationId}: ${status}`);
        for (const code of resolved.errorCodes) {
          const schema = resolved.content?.['application/json'];
          assert.ok(schema?.safeParse(errorExample(code)).success, `${route.operationId} ${code}`);
        }
      }
    }
  });

  it('has examples that its schemas accept', function () {
    let checked = 0;
    for (const [name, value] of Object.entries(httpSchemas)) {
      if (!(value instanceof z.ZodType)) continue;
      const examples = (value.meta()?.examples ?? []) as unknown[];
      for (const example of examples) {
        const result = value.safeParse(example);
        assert.ok(result.success, `${name}: ${JSON.stringify(example)}: ${result.error?.message}`);
        checked++;
      }
    }
    assert.ok(checked >= 15, `only ${checked} examples`);
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      assert.ok(errorBodySchema.safeParse(errorExample(code)).success, code);
    }
  });

  it('gives every operation an id, a summary and a tag, with ids unique', function () {
    const ids = HTTP_ROUTES.map((r) => r.operationId);
    assert.equal(new Set(ids).size, ids.length);
    for (const op of documentedOperations().values()) {
      assert.ok(op.operationId && op.summary && Array.isArray(op.tags), JSON.stringify(op));
    }
  });
});
