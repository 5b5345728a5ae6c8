import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InProcessBus, metrics, provideGauge, type AppConfig, type Logger } from '@facewatch/core';
import { imageReferenceResolver, imageSourcePolicy, resolveImageInput } from '@facewatch/image-source';
import { openSqliteStore } from '@facewatch/db';
import { openDecisionPolicy, openFaceBackend } from '@facewatch/recognition';
import { startInboxWatcher } from '@facewatch/ingest';
import { folderImageCopyStore, startMatcher, type ImageResolver } from '@facewatch/matcher';
import { startApi } from '@facewatch/api';

const version = '0.1.0';

/**
 * The embedded profile: ingest (watched inbox), matcher and api in one process, joined by the
 * in-process bus, storing in SQLite. `npm start` runs this.
 */
export async function startEmbedded(config: AppConfig, log: Logger): Promise<{ close(): Promise<void>; port: number }> {
  await Promise.all([config.storage.dataDir, config.storage.blacklistDir, config.storage.processedDir, config.inbox.dir].map((d) => mkdir(d, { recursive: true })));
  const store = await openSqliteStore({ path: join(config.storage.dataDir, 'facewatch.db'), log: log.child({ component: 'store' }) });
  const backend = await openFaceBackend(config, store, log);
  let decisions;
  try {
    decisions = openDecisionPolicy(config.decision, backend);
  } catch (err) {
    await backend.close();
    await store.close();
    throw err;
  }
  const bus = new InProcessBus(log.child({ component: 'bus' }));
  const policy = imageSourcePolicy(config);

  const resolve: ImageResolver = imageReferenceResolver(policy);
  const matcher = await startMatcher({
    bus,
    backend,
    policy: decisions,
    store,
    copies: folderImageCopyStore(config.storage.processedDir),
    resolve,
    log,
    // local: twice what the inference pool holds, so it never waits for the next image
    concurrency: config.backend === 'local' ? config.face.pool.workers * config.face.pool.tasksPerWorker * 2 : config.scale.matcherConcurrency,
  });
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
    version,
  });
  const inbox = await startInboxWatcher({
    inboxDir: config.inbox.dir,
    bus,
    log: log.child({ component: 'inbox' }),
    stableMs: config.inbox.stableMs,
    incompleteMs: config.inbox.incompleteMs,
    maxInlineBytes: config.face.decode.maxBytes,
  });
  provideGauge(metrics.inboxPending, () => inbox.pending);
  log.info({ inbox: config.inbox.dir, blacklist: config.storage.blacklistDir }, 'facewatch is running (embedded profile)');

  return {
    port: api.port,
    // intake first, then the work in flight, then the engines
    async close() {
      await api.close();
      await inbox.close();
      await bus.drain();
      await matcher.close();
      await backend.close();
      await store.close();
    },
  };
}
