import type { Server } from 'node:http';
import { metrics, provideGauge, type EventBus, type FaceConfig, type Logger, type RetentionConfig, type WebhookConfig } from '@facewatch/core';
import { type ImageSourcePolicy } from '@facewatch/image-source';
import type { Store } from '@facewatch/db';
import { buildApp } from './app.js';
import { BlacklistFolder } from './blacklist/blacklist-folder.js';
import { watchBlacklistFolder, type BlacklistWatcher } from './blacklist/blacklist-watcher.js';
import { Watchlist } from './blacklist/watchlist.js';
import type { ApiDeps, ApiSettings } from './deps.js';
import { ReplyWaiter } from './replies.js';
import { AlertHub } from './alerts/alert-hub.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';
import { startRetention } from './admin/retention.js';
import { hostname } from 'node:os';

export interface ApiServiceOptions {
  settings: ApiSettings;
  face: FaceConfig;
  log: Logger;
  store: Store;
  backend: ApiDeps['backend'];
  decisions: ApiDeps['decisions'];
  bus: EventBus;
  resolveImage: ApiDeps['resolveImage'];
  blacklistDir: string;
  /** processed_images_output/ (the stored copies of processed images). */
  processedDir: string;
  /** Webhook deliveries (the outbox dispatcher runs in the API process). */
  webhooks: WebhookConfig;
  /** The scheduled purge of old results and alerts. */
  retention: RetentionConfig;
  /** Which URLs webhooks may call (the image-URL guard). */
  urlPolicy: Pick<ImageSourcePolicy, 'url'>;
  /** The process's name in consumer groups (API_INSTANCE_ID); default `<host>-<port>`. */
  instanceId?: string | undefined;
  /** Follow hand edits of blacklist_db/ (on by default). */
  watchBlacklist?: boolean;
  port: number;
  host: string;
  version: string;
}

export interface ApiService {
  server: Server;
  /** The port actually bound (useful with port 0). */
  port: number;
  watchlist: Watchlist;
  /** Stops accepting connections, waits for requests in flight, stops the folder watcher. */
  close(): Promise<void>;
}

/** The api service: the watch-list (with its folder), the HTTP server, replies from the matcher. */
export async function startApi(options: ApiServiceOptions): Promise<ApiService> {
  const log = options.log.child({ component: 'api' });
  const watchlist = new Watchlist({
    store: options.store,
    backend: options.backend,
    folder: new BlacklistFolder(options.blacklistDir),
    log: log.child({ component: 'watchlist' }),
  });
  let watcher: BlacklistWatcher | undefined;
  if (options.watchBlacklist ?? true) watcher = await watchBlacklistFolder(options.blacklistDir, watchlist, log.child({ component: 'blacklist-watcher' }));
  // one subscription serves the replies and the live alert stream; a stable group per process
  const instance = options.instanceId ?? `${hostname()}-${options.port}`;
  const replies = new ReplyWaiter(options.bus, `api-${instance}`);
  const alertHub = new AlertHub(options.store, log.child({ component: 'alert-stream' }));
  const dispatcher = new WebhookDispatcher(options.store, options.urlPolicy, options.webhooks, log.child({ component: 'webhooks' }));
  replies.listen(async (event) => {
    // a new result may have queued deliveries: look now rather than at the next poll
    if (event.matched || event.face_count > 0) dispatcher.kick();
    await alertHub.onProcessed(event);
  });
  await replies.start();
  const heartbeat = setInterval(() => alertHub.heartbeat(), options.settings.sseHeartbeatMs);
  heartbeat.unref();
  dispatcher.start();
  const retention = startRetention(
    { store: options.store, processedDir: options.processedDir, log: log.child({ component: 'retention' }) },
    { retentionDays: options.retention.resultDays, alertRetentionDays: options.retention.alertDays, intervalMs: options.retention.intervalMs },
  );
  provideGauge(metrics.sseClients, () => alertHub.size);
  provideGauge(metrics.outboxPending, () => options.store.deliveries.countPending().catch(() => 0));
  const app = buildApp({ ...options, log, watchlist, replies, alertHub });
  const server = app.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host: options.host, port }, `facewatch API listening on http://${options.host}:${port} (docs at /docs)`);
  return {
    server,
    port,
    watchlist,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // alert streams never end by themselves: give requests in flight a moment, then cut the rest
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      clearInterval(heartbeat);
      await dispatcher.stop();
      await retention.stop();
      await watcher?.close();
      await replies.close();
    },
  };
}
