import type { ApiKeyEntry, EventBus, FaceConfig, Logger } from '@facewatch/core';
import type { ImageSourcePolicy } from '@facewatch/image-source';
import type { Store } from '@facewatch/db';
import type { DecisionPolicy, FaceBackend } from '@facewatch/recognition';
import type { AlertHub } from './alerts/alert-hub.js';
import type { Watchlist } from './blacklist/watchlist.js';
import type { ReplyWaiter } from './replies.js';

export interface ApiSettings {
  /** Largest JSON body (base64 images included). */
  maxBodyBytes: number;
  /** Largest single uploaded file. */
  maxUploadBytes: number;
  /** Files per multipart request. */
  maxUploadFiles: number;
  /** Images per process-images request. */
  maxImagesPerRequest: number;
  /** How long process-images waits for one image's result. */
  resultTimeoutMs: number;
  /** Required on every non-public route when set (an admin key named `default`). */
  apiKey: string | undefined;
  /** Named keys with scopes, accepted alongside apiKey. */
  apiKeys: readonly ApiKeyEntry[];
  /** Changing requests per minute per key (or client address), `burst` at once; perMinute 0: no limit. */
  rateLimit: { perMinute: number; burst: number; by: 'key' | 'address' };
  /** Comment lines on idle event streams. */
  sseHeartbeatMs: number;
}

/** Everything the HTTP edge needs; built by the composition root, faked by nothing (tests use the real ones). */
export interface ApiDeps {
  settings: ApiSettings;
  face: FaceConfig;
  log: Logger;
  store: Store;
  /** Detects, embeds and indexes faces: the local models or AWS Rekognition. */
  backend: FaceBackend;
  /** The decision rule in use (its parameters, target rates and gates). */
  decisions: DecisionPolicy;
  watchlist: Watchlist;
  /** Fans the stored alerts out to the live event-stream clients. */
  alertHub: AlertHub;
  /** Which URLs webhooks may call (the image-URL guard). */
  urlPolicy: Pick<ImageSourcePolicy, 'url'>;
  /** processed_images_output/: stored copies of processed images (served as evidence when this machine has them). */
  processedDir: string;
  bus: EventBus;
  replies: ReplyWaiter;
  /** Resolves a client's image string (server path, URL, base64, data URI) to bytes, within policy. */
  resolveImage: (input: string) => Promise<{ bytes: Uint8Array; kind: 'path' | 'url' | 'base64'; identifier: string }>;
  version: string;
}
