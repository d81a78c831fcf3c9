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
          'previousJwtSecret',
          '*.previousJwtSecret',
          'req.headers.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination(opts.toStderr ?? false),
  );
}

function destination(toStderr: boolean) {
  // PM2's cluster mode collects a worker's output through process.stdout.write, which a
  // direct write to fd 1 bypasses: the API's lines would miss `pm2 logs` and its log files.
  if (process.env.pm_id !== undefined) return toStderr ? process.stderr : process.stdout;
  // A CLI keeps stdout for its answer (--json is parsed by scripts).
  return pino.destination(toStderr ? 2 : 1);
}
