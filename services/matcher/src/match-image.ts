import { createHash } from 'node:crypto';
import {
  AppError,
  ErrorCode,
  resolveMatchOptions,
  toAppError,
  Topic,
  type EventBus,
  type FaceConfig,
  type FaceMatched,
  type ImageReceived,
  type Logger,
} from '@facewatch/core';
import type { FaceRecord, ProcessedImage, Store } from '@facewatch/db';
import { defaultMaxDistance, toFacialArea } from '@facewatch/face';
import type { FaceAnalyser, ImageCopyStore, ImageResolver } from './ports.js';
import { searchWatchlist } from './search-watchlist.js';

export interface MatchImageDeps {
  faces: FaceAnalyser;
  store: Store;
  copies: ImageCopyStore;
  resolve: ImageResolver;
  bus: EventBus;
  config: FaceConfig;
  log: Logger;
  /** Persons reported per face at most. */
  maxMatchesPerFace?: number;
  now?: () => Date;
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);

/**
 * The matcher's use case: image received → decode, detect, align, embed every face → search the
 * watch-list → decide per face → persist the result (with a copy of the image) → publish the
 * result and one alert per matched person. Failures of the image itself (unreadable, too large…)
 * are results too, with their error. Ids are deterministic (content hash + model + detector; the
 * event id when there are no bytes), so a redelivered event overwrites the same result and
 * repeats the same alert ids instead of creating new ones.
 * Retryable failures (database, pool shutting down) are thrown for the caller to retry.
 */
export async function matchImage(deps: MatchImageDeps, event: ImageReceived): Promise<ProcessedImage> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  let options;
  try {
    options = resolveMatchOptions(event.options, deps.config);
  } catch (err) {
    return finish(deps, event, failed(event, hash(event.event_id), toAppError(err), now, deps.config));
  }
  const maxDistance = options.maxDistance ?? defaultMaxDistance(options.metric);

  let bytes: Uint8Array;
  try {
    bytes = event.image.kind === 'bytes' ? event.image.bytes : await deps.resolve(event.image);
  } catch (err) {
    const e = toAppError(err);
    if (e.retryable && e.code !== ErrorCode.URL_FETCH_FAILED) throw e;
    return finish(deps, event, failed(event, hash(event.event_id), e, now, deps.config, options));
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const imageId = hash(sha256, options.model, options.detector);

  let analysis;
  try {
    analysis = await deps.faces.analyse(bytes, { detector: options.detector, embed: true });
  } catch (err) {
    const e = toAppError(err);
    if (e.retryable) throw e;
    return finish(deps, event, { ...failed(event, imageId, e, now, deps.config, options), sha256 });
  }

  const index = await deps.store.vectorIndex(options.model, 512);
  const faces: FaceRecord[] = [];
  for (const [faceIndex, face] of analysis.faces.entries()) {
    const matches = await searchWatchlist(
      { index, store: deps.store },
      { embedding: face.embedding!, norm: face.norm!, box: face.box, metric: options.metric, maxDistance, limit: deps.maxMatchesPerFace ?? 5 },
    );
    faces.push({
      face_index: faceIndex,
      facial_area: toFacialArea(face),
      confidence: Number(face.score.toFixed(4)),
      decision: matches.length > 0 ? 'match' : 'unknown',
      blacklist_matches: matches,
    });
  }
  const storedPath = await deps.copies.save(imageId, bytes, analysis.format);
  const result: ProcessedImage = {
    id: imageId,
    image_path_or_identifier: event.identifier,
    source: event.source,
    sha256,
    stored_image_path: storedPath,
    width: analysis.width,
    height: analysis.height,
    model_name: options.model,
    detector_backend: options.detector,
    distance_metric: options.metric,
    faces,
    matched: faces.some((f) => f.decision === 'match'),
    error: null,
    processed_at: now,
  };
  return finish(deps, event, result);
}

function failed(
  event: ImageReceived,
  id: string,
  error: AppError,
  now: string,
  config: FaceConfig,
  options?: { model: string; detector: string; metric: string },
): ProcessedImage {
  return {
    id,
    image_path_or_identifier: event.identifier,
    source: event.source,
    sha256: event.sha256 ?? null,
    stored_image_path: null,
    width: null,
    height: null,
    model_name: options?.model ?? config.embedder,
    detector_backend: options?.detector ?? config.detector,
    distance_metric: options?.metric ?? config.distanceMetric,
    faces: [],
    matched: false,
    error: { code: error.code, message: error.message },
    processed_at: now,
  };
}

/** Persist, then publish: the result first, then one alert per matched person and face. */
async function finish(deps: MatchImageDeps, event: ImageReceived, result: ProcessedImage): Promise<ProcessedImage> {
  try {
    await deps.store.processed.save(result);
  } catch (err) {
    throw toAppError(err, ErrorCode.DB_UNAVAILABLE);
  }
  for (const face of result.faces) {
    for (const m of face.blacklist_matches) {
      const alert: FaceMatched = {
        alert_id: hash(result.id, String(face.face_index), result.model_name, m.person_id),
        image_id: result.id,
        face_index: face.face_index,
        person_id: m.person_id,
        name: m.name,
        distance: m.distance,
        threshold: m.threshold,
        identity: m.identity,
        facial_area: { x: face.facial_area.x, y: face.facial_area.y, w: face.facial_area.w, h: face.facial_area.h },
        identifier: result.image_path_or_identifier,
        processed_at: result.processed_at,
      };
      await deps.bus.publish(Topic.faceMatched, alert.alert_id, alert);
    }
  }
  if (result.error && deps.bus.redelivers) {
    // on Kafka, images that cannot be processed are also parked in the dead-letter topic for operators
    await deps.bus.publish(Topic.deadLetter, event.event_id, {
      error: result.error,
      payload: { ...event, image: event.image.kind === 'bytes' ? { kind: 'bytes', bytes_base64: Buffer.from(event.image.bytes).toString('base64') } : event.image },
      topic: Topic.imageReceived,
      failed_at: result.processed_at,
    });
  }
  await deps.bus.publish(Topic.imageProcessed, result.id, {
    event_id: event.event_id,
    image_id: result.id,
    source: result.source as ImageReceived['source'],
    identifier: result.image_path_or_identifier,
    face_count: result.faces.length,
    matched: result.matched,
    error: result.error,
    processed_at: result.processed_at,
  });
  deps.log.info({ imageId: result.id, faces: result.faces.length, matched: result.matched, error: result.error?.code }, 'image processed');
  return result;
}
