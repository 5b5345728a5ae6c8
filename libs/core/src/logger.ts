import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: LevelWithSilent;
  name?: string;
  /** Where log lines go; command-line tools log to stderr so stdout stays data. */
  destination?: 'stdout' | 'stderr';
}

/**
 * One root logger per process; components take `log.child({ component })`. Embeddings and
 * credentials are redacted wherever they appear in logged objects.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name ?? 'facewatch',
      level: options.level,
      redact: {
        paths: [
          'embedding',
          '*.embedding',
          'faces[*].embedding',
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'secretAccessKey',
          // API keys (API_KEY, API_KEYS) wherever a config or a request's headers end up in a log line
          'apiKey',
          '*.apiKey',
          'apiKeys',
          '*.apiKeys',
          '["x-api-key"]',
          '*["x-api-key"]',
          '*.headers["x-api-key"]',
          '*.headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: options.destination === 'stderr' ? 2 : 1, sync: options.destination === 'stderr' }),
  );
}
