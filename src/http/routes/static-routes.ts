import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { Context } from 'koa';
import { STATIC_CONTENT_TYPES } from '../../contract/http-schemas.js';
import { AppError } from '../../errors/app-error.js';

/** Options of {@link staticRoutes}. */
export interface StaticRoutesOptions {
  /**
   * Directories searched in order for every file; the first that has it wins.
   * @defaultValue this module's `../public` (src/http/public under tsx, dist/http/public
   * when built), then `<project>/dist/http/public`, where `tsc -p web/tsconfig.json` writes
   * the browser scripts (`js/`), so that the pages also work when the API runs from src/.
   */
  roots?: string[];
}

/** Served extensions and their types (the contract's); anything else is a 404. */
const CONTENT_TYPES = STATIC_CONTENT_TYPES;

/**
 * The pages' policy: scripts, styles and images only from this origin (no inline script, so
 * an injected `<script>` cannot run), API and WebSocket connections to this origin, no
 * framing, no plugins.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function defaultRoots(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const own = path.resolve(here, '../public');
  // here is <project>/src/http/routes or <project>/dist/http/routes.
  const built = path.resolve(here, '../../../dist/http/public');
  return own === built ? [own] : [own, built];
}

/**
 * The browser pages: `GET /` (chat), `GET /dashboard`, `GET /docs` (the API documents; its
 * Swagger UI files are docs-routes.ts's) and `GET /static/<file>` (their scripts and
 * styles). Files are read from {@link StaticRoutesOptions.roots}; a path with a `..` segment,
 * a dotfile, an unknown extension or one that resolves outside a root is a 404. Responses
 * carry an ETag and `Cache-Control: no-cache` (file names are not content-hashed,
 * so browsers revalidate, and get a 304 when nothing changed).
 */
export function staticRoutes(opts: StaticRoutesOptions = {}): Router {
  const roots = (opts.roots ?? defaultRoots()).filter((dir) => existsSync(dir));
  const router = new Router();

  router.get('/', (ctx) => sendFile(ctx, roots, 'index.html'));
  router.get('/dashboard', (ctx) => sendFile(ctx, roots, 'dashboard.html'));
  router.get('/docs', (ctx) => sendFile(ctx, roots, 'docs.html'));
  router.get('/static/*file', (ctx) => {
    const rel = safeRelativePath(ctx.path.slice('/static/'.length));
    if (rel === undefined) throw new AppError('NOT_FOUND', `No file ${ctx.path}`);
    return sendFile(ctx, roots, rel);
  });
  return router;
}

/**
 * Decodes a URL path into a relative file path, or undefined when it is not one we serve:
 * malformed escapes, NUL, backslashes, empty, `.` or `..` segments, and dotfiles.
 */
export function safeRelativePath(urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '' || s.startsWith('.'))) return undefined;
  return segments.join(path.sep);
}

/**
 * Answers with the file `rel` of the first of `roots` that has it (an HTML page with the page
 * headers), with an ETag and `Cache-Control: no-cache`; a 404 when none has it or its
 * extension is not in {@link CONTENT_TYPES}. `rel` must come from {@link safeRelativePath}
 * or an allow-list.
 */
export async function sendFile(ctx: Context, roots: string[], rel: string): Promise<void> {
  const type = CONTENT_TYPES[path.extname(rel).toLowerCase()];
  if (type === undefined) throw new AppError('NOT_FOUND', `No file ${ctx.path}`);
  for (const root of roots) {
    const file = path.resolve(root, rel);
    // Belt and braces after safeRelativePath: whatever the input, never leave the root.
    if (!file.startsWith(root + path.sep)) break;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) continue;

    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (type.startsWith('text/html')) setPageHeaders(ctx);
    ctx.type = type;
    ctx.lastModified = info.mtime;
    ctx.etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    ctx.status = 200;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = await readFile(file);
    return;
  }
  throw new AppError('NOT_FOUND', `No file ${ctx.path}`);
}

function setPageHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', PAGE_CSP);
  ctx.set('X-Frame-Options', 'DENY');
  // The pages never put the token in their own URL, but keep every URL to ourselves anyway.
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
}
