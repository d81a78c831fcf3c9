import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats, { type FormatsPlugin } from 'ajv-formats';

// ajv-formats is CommonJS whose module.exports is the plugin: the default import is it at run
// time, though its types describe a namespace with a `default`.
const addFormats = formats as unknown as FormatsPlugin;

/** A JSON pointer into a document, as path segments. */
export type Pointer = readonly (string | number)[];

/** `#/a/b~1c` from `['a', 'b/c']`, percent-encoded as a URI fragment. */
export function fragmentOf(pointer: Pointer): string {
  return `#/${pointer.map((s) => encodeURIComponent(String(s).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Every Schema Object of an OpenAPI 3.1 document, with its pointer: the components' schemas,
 * and those of parameters, request bodies, responses and their headers.
 */
export function* openApiSchemaObjects(doc: Json): Generator<[Pointer, Json]> {
  const components = isObject(doc.components) ? doc.components : {};
  for (const [name, schema] of Object.entries(
    isObject(components.schemas) ? components.schemas : {},
  )) {
    if (isObject(schema)) yield [['components', 'schemas', name], schema];
  }
  const inResponses = function* (responses: unknown, at: Pointer): Generator<[Pointer, Json]> {
    for (const [status, res] of Object.entries(isObject(responses) ? responses : {})) {
      if (!isObject(res)) continue;
      yield* inContent(res.content, [...at, status, 'content']);
      for (const [name, header] of Object.entries(isObject(res.headers) ? res.headers : {})) {
        if (isObject(header) && isObject(header.schema)) {
          yield [[...at, status, 'headers', name, 'schema'], header.schema];
        }
      }
    }
  };
  yield* inResponses(components.responses, ['components', 'responses']);
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const at: Pointer = ['paths', path, method];
      const params: unknown[] = Array.isArray(op.parameters) ? op.parameters : [];
      for (const [i, p] of params.entries()) {
        if (isObject(p) && isObject(p.schema)) yield [[...at, 'parameters', i, 'schema'], p.schema];
      }
      if (isObject(op.requestBody))
        yield* inContent(op.requestBody.content, [...at, 'requestBody', 'content']);
      yield* inResponses(op.responses, [...at, 'responses']);
    }
  }
}

function* inContent(content: unknown, at: Pointer): Generator<[Pointer, Json]> {
  for (const [type, media] of Object.entries(isObject(content) ? content : {})) {
    if (isObject(media) && isObject(media.schema)) yield [[...at, type, 'schema'], media.schema];
  }
}

/**
 * JSON Schema validators for the schemas inside an API document, resolving its
 * `#/components/...` references: OpenAPI 3.1's dialect is JSON Schema 2020-12, AsyncAPI 3.0's
 * schema format a superset of draft 7. `metaErrors(schema)` checks a schema against the
 * meta-schema; `validator(pointer)` compiles the schema at `pointer` (strict: an unknown
 * keyword or an unresolvable reference throws).
 */
export function documentSchemas(doc: Json, dialect: '2020-12' | 'draft-07' = '2020-12') {
  const options = { strict: true, allErrors: true, strictTypes: false, strictTuples: false };
  const ajv = dialect === '2020-12' ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  // OpenAPI's and AsyncAPI's own keywords inside Schema Objects (allowed by the specs), and
  // the documents' top-level fields: a document is registered as one schema so that its refs
  // resolve.
  ajv.addVocabulary(['discriminator', 'xml', 'externalDocs', 'example']);
  ajv.addVocabulary(['openapi', 'info', 'servers', 'paths', 'components', 'security', 'tags']);
  ajv.addVocabulary(['asyncapi', 'defaultContentType', 'channels', 'operations']);
  const id = 'urn:chat-cache:document';
  ajv.addSchema({ ...doc, $id: id }, undefined, undefined, false);
  return {
    /** The meta-schema's errors for `schema`, or undefined when it is valid. */
    metaErrors(schema: Json): string | undefined {
      return ajv.validateSchema(schema) ? undefined : ajv.errorsText(ajv.errors);
    },
    validator(pointer: Pointer): ValidateFunction {
      const fn = ajv.getSchema(`${id}${fragmentOf(pointer)}`);
      if (!fn) throw new Error(`no schema at ${fragmentOf(pointer)}`);
      return fn;
    },
    /** Throws naming `what` and the errors when the schema at `pointer` refuses `value`. */
    assertValid(pointer: Pointer, value: unknown, what: string): void {
      const fn = this.validator(pointer);
      if (!fn(value)) {
        throw new Error(`${what}: ${ajv.errorsText(fn.errors)} in ${JSON.stringify(value)}`);
      }
    },
  };
}
