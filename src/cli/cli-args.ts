import { CliError, EXIT } from './cli-error.js';

// Control characters, spaces and quotes in a key are almost always a shell mistake.
const KEY_RE = /^[\x21-\x7e]{1,512}$/;

const CACHE_KEY_RE = /^(message:[0-9a-f]{24}|messages:[0-9a-f]{24}:[0-9a-f]{24})$/;

/** Checks a key given on the command line: printable, and one of this application's. */
export function checkCacheKey(key: string | undefined): string {
  if (!key) throw new CliError('a key is required, e.g. message:<id>', EXIT.USAGE);
  if (!KEY_RE.test(key)) {
    throw new CliError(`bad key ${JSON.stringify(key)}: printable ASCII, no spaces`, EXIT.USAGE);
  }
  if (!/^messages?:/.test(key)) {
    throw new CliError(
      `bad key ${JSON.stringify(key)}: cache keys start with message: or messages: ` +
        '(the daemon records are handled by dead-letter)',
      EXIT.USAGE,
    );
  }
  if (!CACHE_KEY_RE.test(key)) {
    throw new CliError(
      `bad key ${JSON.stringify(key)}: expected message:<id> or messages:<id>:<id> ` +
        '(ids are 24 lower-case hex characters)',
      EXIT.USAGE,
    );
  }
  return key;
}

/** Checks a SCAN glob: printable, balanced brackets, not ending in a lone backslash. */
export function checkPattern(pattern: string | undefined): string {
  if (!pattern) throw new CliError('a pattern is required, e.g. "message:*"', EXIT.USAGE);
  if (!KEY_RE.test(pattern)) {
    throw new CliError(`bad pattern ${JSON.stringify(pattern)}: printable ASCII`, EXIT.USAGE);
  }
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (i === pattern.length - 1) {
        throw new CliError(`bad pattern ${JSON.stringify(pattern)}: ends in \\`, EXIT.USAGE);
      }
      i++;
    } else if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
  }
  if (depth !== 0) {
    throw new CliError(`bad pattern ${JSON.stringify(pattern)}: unclosed [`, EXIT.USAGE);
  }
  return pattern;
}

/** Parses `1h`, `30m`, `2d`, `45s` into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (!m)
    throw new CliError(`bad duration ${JSON.stringify(text)}: use e.g. 30m, 1h, 2d`, EXIT.USAGE);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
