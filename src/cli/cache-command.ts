import type { CacheService } from '../cache/cache-service.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { KeySpace } from '../redis/key-space.js';
import type { RedisKeys } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks a yes/no question; resolves false when there is no terminal to ask on. */
  confirm(question: string): Promise<boolean>;
}

/** The command line after the command's name, parsed. */
export interface CommandArgs {
  /** The words after the command's name. */
  positionals: string[];
  page: number;
  pageSize: number;
  /** `--since`, unparsed. */
  since: string;
  all: boolean;
}

/** What every command runs with: the connected Redis and the invocation's flags. */
export interface CommandContext {
  config: Config;
  logger: Logger;
  io: CliIo;
  redis: RedisClient;
  /** Where each key lives (a message's and a conversation's partition). */
  space: KeySpace;
  /** The keys outside the partitions (`space.shared`). */
  keys: RedisKeys;
  cache: CacheService;
  json: boolean;
  yes: boolean;
  /** Writes the human line, or `data` as one JSON line with --json. */
  print(human: string, data: unknown): void;
}

/** Runs a command whose arguments were checked. @throws CliError with the exit code. */
export type CommandRun = (ctx: CommandContext) => Promise<void>;

/**
 * A cache CLI command: checks its arguments before anything is connected (so usage errors
 * are immediate) and returns what runs it.
 * @throws CliError USAGE on bad arguments.
 */
export type CacheCommand = (args: CommandArgs) => CommandRun;
