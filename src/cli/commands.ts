import type { CacheCommand } from './cache-command.js';
import { clearCommand } from './clear-command.js';
import { deadLetterCommand } from './dead-letter-command.js';
import { delCommand } from './del-command.js';
import { getCommand } from './get-command.js';
import { keysCommand } from './keys-command.js';
import { statsCommand } from './stats-command.js';
import { warmCommand } from './warm-command.js';

/** The cache CLI's commands by name (USAGE in cache-cli.ts describes them). */
export const COMMANDS: Readonly<Record<string, CacheCommand>> = {
  stats: statsCommand,
  keys: keysCommand,
  get: getCommand,
  del: delCommand,
  clear: clearCommand,
  'dead-letter': deadLetterCommand,
  warm: warmCommand,
};
