// Copies non-TypeScript assets (Lua scripts, static pages) from src/ to dist/ after tsc.
import { cpSync, existsSync } from 'node:fs';

for (const dir of ['redis/scripts', 'http/public']) {
  if (existsSync(`src/${dir}`)) cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true });
}
