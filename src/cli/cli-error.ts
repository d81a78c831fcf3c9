/** Exit codes of the cache CLI, for scripts. */
export const EXIT = {
  OK: 0,
  /** Redis/MongoDB unreachable or another runtime failure. */
  FAILURE: 1,
  /** Bad command, argument, key or pattern. */
  USAGE: 2,
  /** The key or dead-letter entry does not exist. */
  NOT_FOUND: 3,
  /** `clear` not confirmed. */
  ABORTED: 4,
} as const;

/** An error the CLI reports as one line on stderr (or `{ error }` with --json) and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
