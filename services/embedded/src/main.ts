import { createLogger, isAppError, loadConfig, registerShutdown, type Logger } from '@facewatch/core';
import { startEmbedded } from './embedded.js';

// `npm start`: the whole product in one process.
let log: Logger | undefined;
try {
  const config = loadConfig();
  log = createLogger({ level: config.logLevel });
  const app = await startEmbedded(config, log);
  registerShutdown([{ name: 'facewatch', close: () => app.close() }], { log, forceAfterMs: config.api.shutdownGraceMs });
} catch (err) {
  const message = isAppError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err);
  log?.fatal({ err }, 'facewatch could not start');
  console.error(`facewatch could not start: ${message}`);
  process.exit(1);
}
