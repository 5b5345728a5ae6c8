import { randomUUID } from 'node:crypto';
import { createLogger, isAppError, loadConfig, registerShutdown, requireScaleProfile, startKafkaBus, type Logger } from '@facewatch/core';
import { startInboxWatcher } from './inbox-watcher.js';

// `npm run start:ingest`: the watched inbox of the scale profile, publishing to Kafka.
let log: Logger | undefined;
try {
  const config = loadConfig();
  log = createLogger({ level: config.logLevel, name: 'facewatch-ingest' });
  requireScaleProfile(config, 'ingest');
  const bus = await startKafkaBus(config, 'ingest', log);
  const inbox = await startInboxWatcher({
    inboxDir: config.inbox.dir,
    bus,
    log: log.child({ component: 'inbox' }),
    stableMs: config.inbox.stableMs,
    incompleteMs: config.inbox.incompleteMs,
    maxInlineBytes: config.face.decode.maxBytes,
    // each ingest process waits for the answers to its own files
    group: `ingest-inbox-${randomUUID()}`,
  });
  registerShutdown(
    [
      { name: 'inbox', close: () => inbox.close() },
      { name: 'kafka', close: () => bus.close() },
    ],
    { log, forceAfterMs: config.api.shutdownGraceMs },
  );
} catch (err) {
  log?.fatal({ err }, 'ingest could not start');
  console.error(`ingest could not start: ${isAppError(err) ? `${err.code}: ${err.message}` : String(err)}`);
  process.exit(1);
}
