import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { createLogger, isAppError, loadConfig, metrics, provideGauge, registerShutdown, serveMetrics, type Logger } from '@facewatch/core';
import { requireScaleProfile, startKafkaBus } from '@facewatch/kafka';
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
    // each ingest process waits for the answers to its own files: its own group, named after its
    // host and folder so that a restart reuses it instead of leaving a group behind on the broker
    group: `ingest-inbox-${hostname()}-${createHash('sha256').update(config.inbox.dir).digest('hex').slice(0, 12)}`,
  });
  provideGauge(metrics.inboxPending, () => inbox.pending);
  const metricsServer = config.scale.metricsPort === undefined ? undefined : await serveMetrics(config.scale.metricsPort, config.api.host, log);
  registerShutdown(
    [
      { name: 'metrics', close: () => new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r())) },
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
