import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// What a crash or a lost promise leaves in a log: the messages of exitOnFatal
// (src/lifecycle/shutdown.ts), pino's fatal level (60), Node's own wording.
const CRASH_PATTERNS = [/unhandled rejection/i, /uncaught exception/i, /FATAL/, /"level":60\b/];

/**
 * Lines of the PM2 log files in `dir` that show an unhandled rejection, an uncaught
 * exception or a fatal error (at most `limit`, each cut to 300 characters).
 */
export function crashLines(dir: string, limit = 10): string[] {
  const out: string[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.log'));
  } catch {
    return out;
  }
  for (const file of files) {
    const lines = readFileSync(path.join(dir, file), 'utf8').split('\n');
    for (const line of lines) {
      if (CRASH_PATTERNS.some((p) => p.test(line))) {
        out.push(`${file}: ${line.slice(0, 300)}`);
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}
