import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { ERROR_CODES, type ErrorCode } from '../errors/error-codes.js';
import { projectRoot } from '../local/project-root.js';
import {
  HTTP_ROUTES,
  ROUTE_TAGS,
  resolvedResponses,
  type ResolvedResponse,
  type RouteSpec,
} from './http-routes.js';
import {
  errorBodySchema,
  errorBodySchemaFor,
  errorCodeSchema,
  errorExample,
} from './http-schemas.js';
import { clientFrameSchema, serverFrameSchema } from './ws-frames.js';
import { z } from 'zod';

/** The OpenAPI document, as JSON. */
export type OpenApiDocument = ReturnType<typeof createDocument>;

/** Name of the bearer-token security scheme. */
export const BEARER_SCHEME = 'bearerAuth';

/** The version of the API: the package's (the project root's package.json, found from any build). */
export function apiVersion(): string {
  const file = path.join(projectRoot(), 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

const DESCRIPTION = `The REST API of chat-cache. The ws protocol at \`/ws\` is described by \`/asyncapi.json\`.

Conventions that hold for every path:
- Bodies are JSON in UTF-8 with \`Content-Type: application/json\` (a \`charset\`, if any, \`utf-8\`). Every POST, PUT or PATCH body is checked before authentication and routing, whatever the path: another type or none is 415 UNSUPPORTED_MEDIA_TYPE, over 100 KiB 413 PAYLOAD_TOO_LARGE, bytes that are not valid UTF-8 or not JSON 400 BAD_JSON. A request without a body (\`Content-Length: 0\`) reads as \`{}\`.
- Every error is \`{ "error": { "code", "message" } }\` (components/schemas/ErrorBody) with the status of its code; each operation lists the codes it can answer with.
- A method a path does not list is 405 METHOD_NOT_ALLOWED with \`Allow\` naming the path's methods (components/responses/MethodNotAllowed); a method no route has is 501 NOT_IMPLEMENTED (components/responses/NotImplemented); an unknown path is 404 NOT_FOUND (components/responses/NoRoute). \`OPTIONS\` answers 200 with \`Allow\`, and \`HEAD\` as \`GET\` without the body.
- A request not answered within REQUEST_TIMEOUT_MS (10 s) gets 503 SERVICE_UNAVAILABLE with \`Retry-After: 1\`.
- Node's HTTP server itself, before any route, answers bytes it cannot take as a request without a JSON body and closes the connection: 400 (malformed), 431 (headers over 16 KiB), 408 (headers or body not sent within HEADERS_TIMEOUT_MS / RECEIVE_TIMEOUT_MS).`;

/** Builds the OpenAPI 3.1 document of the REST API from the route table. */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of HTTP_ROUTES) {
    const item = (paths[route.path] ??= {});
    item[route.method] = operationOf(route);
  }
  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'chat-cache REST API',
      version: apiVersion(),
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: Object.entries(ROUTE_TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: {
        [BEARER_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'The token of POST /api/auth/signup or /api/auth/login: an HS256 JWT valid 24 h. Missing, malformed, forged, expired, without `exp`, or of a user that does not exist: 401 UNAUTHORIZED. When the user cannot be checked (Redis and MongoDB unreachable): 503 SERVICE_UNAVAILABLE; keep the token and retry.',
        },
      },
      schemas: { ErrorBody: errorBodySchema, ErrorCode: errorCodeSchema, ...WS_FRAME_SCHEMAS },
      responses: {
        MethodNotAllowed: unroutedResponse(
          'METHOD_NOT_ALLOWED',
          'A method the path does not list (HEAD and OPTIONS excepted)',
          true,
        ),
        NotImplemented: unroutedResponse(
          'NOT_IMPLEMENTED',
          'A method no route has (e.g. PROPFIND); `Allow` names the methods of a known path',
          false,
        ),
        NoRoute: unroutedResponse('NOT_FOUND', 'A path no route has, whatever the method'),
      },
    },
  });
  return withoutUnusedFrameCopies(document);
}

// ---------------------------------------------------------------------------------------
// The ws frames, as components. /asyncapi.json describes the ws protocol; these are the same
// zod schemas (ws-frames.ts) in this document too, so that one OpenAPI generator (the typed
// client's `npm run contract:types`, openapi-typescript) types the REST calls and the frames
// alike. No operation refers to them.

const WS_FRAME_SCHEMAS = {
  ClientFrame: clientFrameSchema.meta({
    // What a client sends: rendered as a request body would be.
    unusedIO: 'input',
    description:
      'A frame a client sends on the ws endpoint /ws (see /asyncapi.json), by `type`. Not used by any REST operation.',
  }),
  ServerFrame: serverFrameSchema.meta({
    description:
      'A frame the server sends on the ws endpoint /ws (see /asyncapi.json), by `type`. Not used by any REST operation.',
  }),
};

/**
 * zod-openapi renders every component both as a request and as an answer, and keeps the
 * answer form of a frame that differs (the loose `PingFrame`) as `<id>Output`; no frame is an
 * answer of a REST route, so a copy nothing refers to is dropped.
 */
function withoutUnusedFrameCopies(document: OpenApiDocument): OpenApiDocument {
  const schemas = document.components?.schemas;
  if (!schemas) return document;
  const text = JSON.stringify(document);
  for (const option of clientFrameSchema.options) {
    const copy = `${String(option.meta()?.id)}Output`;
    if (copy in schemas && !text.includes(`"#/components/schemas/${copy}"`)) delete schemas[copy];
  }
  return document;
}

function operationOf(route: RouteSpec): ZodOpenApiOperationObject {
  const { request } = route;
  const op: ZodOpenApiOperationObject = {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    responses: responsesOf(route),
  };
  if (route.auth === 'bearer') op.security = [{ [BEARER_SCHEME]: [] }];
  const params = {
    ...(request?.path ? { path: request.path } : {}),
    ...(request?.query ? { query: request.query } : {}),
    ...(request?.headers ? { header: request.headers } : {}),
  };
  if (Object.keys(params).length) op.requestParams = params;
  if (request?.body) {
    op.requestBody = {
      required: true,
      content: { 'application/json': { schema: request.body } },
    };
  }
  return op;
}

function responsesOf(route: RouteSpec): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, res] of resolvedResponses(route)) {
    out[String(status) as `${1 | 2 | 3 | 4 | 5}${string}`] = responseObject(res);
  }
  return out;
}

function responseObject(res: ResolvedResponse): ZodOpenApiResponseObject {
  const content = res.content
    ? Object.fromEntries(
        Object.entries(res.content).map(([type, schema]) => [
          type,
          {
            schema,
            // One example per error code, with the message of a real answer.
            ...(type === 'application/json' && res.errorCodes.length
              ? { examples: errorExamples(res.errorCodes) }
              : {}),
          },
        ]),
      )
    : undefined;
  return {
    description: res.description,
    ...(res.headers ? { headers: res.headers } : {}),
    ...(content ? { content } : {}),
  };
}

function errorExamples(codes: readonly ErrorCode[]) {
  return Object.fromEntries(
    codes.map((code) => [code, { summary: ERROR_CODES[code].message, value: errorExample(code) }]),
  );
}

/** The answers of the router and Koa for a request no route takes. */
function unroutedResponse(
  code: ErrorCode,
  description: string,
  allow?: boolean,
): ZodOpenApiResponseObject {
  const allowHeader = z.string().meta({
    description: "The path's methods, e.g. `POST`, or `HEAD, GET`",
    examples: ['POST'],
  });
  return {
    description: `${code}: ${description}`,
    ...(allow === undefined
      ? {}
      : { headers: z.strictObject({ Allow: allow ? allowHeader : allowHeader.optional() }) }),
    content: {
      'application/json': {
        schema: errorBodySchemaFor([code]),
        examples: errorExamples([code]),
      },
    },
  };
}
