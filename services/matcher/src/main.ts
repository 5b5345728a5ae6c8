import { createLogger, isAppError, loadConfig, registerShutdown, serveMetrics, type Logger } from '@facewatch/core';
import { imageReferenceResolver, imageSourcePolicy } from '@facewatch/image-source';
import { defaultClientId, requireScaleProfile, startKafkaBus, startLagMonitor } from '@facewatch/kafka';
import { openConfiguredPostgresStore } from '@facewatch/db';
import { openDecisionPolicy, openFaceBackend } from '@facewatch/recognition';
import { folderImageCopyStore } from './image-copy-store.js';
import { startMatcher } from './matcher-service.js';

// `npm run start:matcher`: one matcher of the scale profile, a member of the Kafka consumer group
// `matcher`; run several to share the load.
let log: Logger | undefined;
try {
  const config = loadConfig();
  log = createLogger({ level: config.logLevel, name: 'facewatch-matcher' });
  const { databaseUrl } = requireScaleProfile(config, 'matcher');
  const store = await openConfiguredPostgresStore(config, databaseUrl, log);
  const backend = await openFaceBackend(config, store, log);
  const policy = openDecisionPolicy(config.decision, backend);
  const bus = await startKafkaBus(config, 'matcher', log);
  const subscription = await startMatcher({
    bus,
    backend,
    policy,
    store,
    copies: folderImageCopyStore(config.storage.processedDir),
    resolve: imageReferenceResolver(imageSourcePolicy(config)),
    log,
    concurrency: config.scale.matcherConcurrency,
  });
  const metricsServer = config.scale.metricsPort === undefined ? undefined : await serveMetrics(config.scale.metricsPort, config.api.host, log);
  const lag = await startLagMonitor(
    { brokers: config.scale.kafka.brokers, clientId: defaultClientId('matcher-lag'), watched: [{ group: 'matcher', topic: config.scale.kafka.topics.images }] },
    log.child({ component: 'consumer-lag' }),
  );
  log.info({ concurrency: config.scale.matcherConcurrency }, 'matcher running');
  registerShutdown(
    [
      {
        name: 'metrics',
        close: async () => {
          await lag.close();
          await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
        },
      },
      { name: 'consumer', close: () => subscription.close() },
      { name: 'kafka', close: () => bus.close() },
      { name: 'face backend', close: () => backend.close() },
      { name: 'store', close: () => store.close() },
    ],
    { log, forceAfterMs: config.api.shutdownGraceMs },
  );
} catch (err) {
  log?.fatal({ err }, 'matcher could not start');
  console.error(`matcher could not start: ${isAppError(err) ? `${err.code}: ${err.message}` : String(err)}`);
  process.exit(1);
}
