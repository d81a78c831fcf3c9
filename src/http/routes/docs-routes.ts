import { createRequire } from 'node:module';
import path from 'node:path';
import Router from '@koa/router';
import { AppError } from '../../errors/app-error.js';
import { sendFile } from './static-routes.js';

/**
 * The files of the installed `swagger-ui-dist` package that the docs page loads, as
 * `GET /docs/assets/<file>`; no other file of the package (nor its source maps) is served.
 */
export const DOCS_ASSETS = ['swagger-ui-bundle.js', 'swagger-ui.css'] as const;

/** One of {@link DOCS_ASSETS}. */
export type DocsAsset = (typeof DOCS_ASSETS)[number];

/** Options of {@link docsRoutes}. */
export interface DocsRoutesOptions {
  /**
   * The folder the {@link DOCS_ASSETS} are read from.
   * @defaultValue the folder of the installed `swagger-ui-dist` (a runtime dependency)
   */
  swaggerUiDir?: string;
}

/** The folder of the installed `swagger-ui-dist`, as Node resolves it from this module. */
export function swaggerUiDir(): string {
  const manifest = createRequire(import.meta.url).resolve('swagger-ui-dist/package.json');
  return path.dirname(manifest);
}

function isDocsAsset(file: string): file is DocsAsset {
  return (DOCS_ASSETS as readonly string[]).includes(file);
}

/**
 * The Swagger UI files of the docs page (`GET /docs`, served by staticRoutes with the pages):
 * `GET /docs/assets/<file>` for a file of {@link DOCS_ASSETS}, straight from the installed
 * package, so the page needs no CDN and stays under the pages' CSP. As /static: an ETag and
 * `Cache-Control: no-cache`; any other name is a 404.
 */
export function docsRoutes(opts: DocsRoutesOptions = {}): Router {
  // Resolved once, when the routes are made: a missing package fails the start, not a request.
  const dir = opts.swaggerUiDir ?? swaggerUiDir();
  const router = new Router();
  router.get('/docs/assets/:file', (ctx) => {
    const file = ctx.params.file ?? '';
    if (!isDocsAsset(file)) throw new AppError('NOT_FOUND', `No file ${ctx.path}`);
    return sendFile(ctx, [dir], file);
  });
  return router;
}
