import { createLogger, imageSourcePolicy, isAppError, loadConfig, registerShutdown, requireScaleProfile, resolveImageInput, startKafkaBus, type Logger } from '@facewatch/core';
import { openConfiguredPostgresStore } from '@facewatch/db';
import { openDecisionPolicy, openFaceBackend } from '@facewatch/recognition';
import { startApi } from './api-service.js';

// `npm run start:api`: the HTTP API of the scale profile on PostgreSQL and Kafka. It uses the face
// backend itself for enrolment, detect, represent and verify; process-images goes through the matchers.
let log: Logger | undefined;
try {
  const config = loadConfig();
  log = createLogger({ level: config.logLevel, name: 'facewatch-api' });
  const { databaseUrl } = requireScaleProfile(config, 'api');
  const store = await openConfiguredPostgresStore(config, databaseUrl, log);
  const backend = await openFaceBackend(config, store, log);
  const decisions = openDecisionPolicy(config.decision, backend);
  const bus = await startKafkaBus(config, 'api', log);
  const policy = imageSourcePolicy(config);
  const api = await startApi({
    settings: config.api,
    face: config.face,
    log,
    store,
    backend,
    decisions,
    bus,
    resolveImage: (input) => resolveImageInput(input, policy),
    blacklistDir: config.storage.blacklistDir,
    processedDir: config.storage.processedDir,
    webhooks: config.webhooks,
    retention: config.retention,
    urlPolicy: imageSourcePolicy(config),
    instanceId: config.api.instanceId,
    port: config.api.port,
    host: config.api.host,
    version: '0.1.0',
  });
  registerShutdown(
    [
      { name: 'http', close: () => api.close() },
      { name: 'kafka', close: () => bus.close() },
      { name: 'face backend', close: () => backend.close() },
      { name: 'store', close: () => store.close() },
    ],
    { log, forceAfterMs: config.api.shutdownGraceMs },
  );
} catch (err) {
  log?.fatal({ err }, 'api could not start');
  console.error(`api could not start: ${isAppError(err) ? `${err.code}: ${err.message}` : String(err)}`);
  process.exit(1);
}
