import { createLogger, isAppError, loadConfig, registerShutdown, type Logger, type ShutdownStep } from '@facewatch/core';
import { imageSourcePolicy, resolveImageInput } from '@facewatch/image-source';
import { requireScaleProfile, startKafkaBus } from '@facewatch/kafka';
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
  // signals are handled from the start; each component is closed, newest first, once it has started
  const steps: ShutdownStep[] = [];
  registerShutdown(steps, { log, forceAfterMs: config.api.shutdownGraceMs });
  const store = await openConfiguredPostgresStore(config, databaseUrl, log);
  steps.unshift({ name: 'store', close: () => store.close() });
  const backend = await openFaceBackend(config, store, log);
  steps.unshift({ name: 'face backend', close: () => backend.close() });
  const decisions = openDecisionPolicy(config.decision, backend);
  const bus = await startKafkaBus(config, 'api', log);
  steps.unshift({ name: 'kafka', close: () => bus.close() });
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
  steps.unshift({ name: 'http', close: () => api.close() });
} catch (err) {
  log?.fatal({ err }, 'api could not start');
  console.error(`api could not start: ${isAppError(err) ? `${err.code}: ${err.message}` : String(err)}`);
  process.exit(1);
}
