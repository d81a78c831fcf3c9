// Copies non-TypeScript assets (Lua scripts, static pages) from src/ to dist/ after tsc,
// replacing the copies there: a renamed or removed asset leaves no stale file behind.
import { cpSync, existsSync, rmSync } from 'node:fs';

for (const dir of ['redis/scripts', 'http/public']) {
  rmSync(`dist/${dir}`, { recursive: true, force: true });
  if (existsSync(`src/${dir}`)) cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true });
}
