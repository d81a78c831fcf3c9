import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The structured logger of every process. Secrets are redacted by path so that a config
 * or request object logged by mistake does not leak them.
 */
export function createLogger(opts: { level: string; name: string; toStderr?: boolean }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      redact: {
        paths: [
          'password',
          '*.password',
          'token',
          '*.token',
          'jwtSecret',
          '*.jwtSecret',
          'req.headers.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    // A CLI keeps stdout for its answer (--json is parsed by scripts).
    pino.destination(opts.toStderr ? 2 : 1),
  );
}
