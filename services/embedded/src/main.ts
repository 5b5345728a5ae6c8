import { createLogger, isAppError, loadConfig, registerShutdown, type Logger } from '@facewatch/core';
import { startEmbedded } from './embedded.js';

// `npm start`: the whole product in one process.
let log: Logger | undefined;
try {
  const config = loadConfig();
  log = createLogger({ level: config.logLevel });
  // signals are handled from the start: one that arrives while facewatch is still starting (the API
  // may already answer) waits for the start, then shuts down in order
  const starting = startEmbedded(config, log);
  registerShutdown([{ name: 'facewatch', close: async () => (await starting.catch(() => undefined))?.close() }], { log, forceAfterMs: config.api.shutdownGraceMs });
  await starting;
} catch (err) {
  const message = isAppError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err);
  log?.fatal({ err }, 'facewatch could not start');
  console.error(`facewatch could not start: ${message}`);
  process.exit(1);
}
