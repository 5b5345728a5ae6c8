import { createHash } from 'node:crypto';
import { AppError, ErrorCode, metrics, timed, toAppError, Topic, type EventBus, type FaceMatched, type ImageReceived, type Logger } from '@facewatch/core';
import { alertForFace, alertIdFor, type FaceEvidence, type FaceRecord, type ProcessedImage, type ResultExtras, type Store } from '@facewatch/db';
import type { BackendOptions, DecisionPolicy, FaceBackend } from '@facewatch/recognition';
import { describeFace } from './describe-face.js';
import type { ImageCopyStore, ImageResolver } from './ports.js';

export interface MatchImageDeps {
  /** Finds and searches the faces: local models or AWS Rekognition. */
  backend: FaceBackend;
  /** Decides match / review / unknown per face. */
  policy: DecisionPolicy;
  store: Store;
  copies: ImageCopyStore;
  resolve: ImageResolver;
  bus: EventBus;
  log: Logger;
  /** Persons reported per face at most. */
  maxMatchesPerFace?: number;
  now?: () => Date;
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);

/**
 * The matcher's use case: image received → find every face and search it in the watch-list (the
 * backend: local models, or Rekognition) → name the matches → decide per face → persist the result (with a copy of the image) → publish the
 * result and one alert per matched person. Failures of the image itself (unreadable, too large…)
 * are results too, with their error. Ids are deterministic (content hash + model + detector; the
 * event id when there are no bytes), so a redelivered event overwrites the same result and
 * repeats the same alert ids instead of creating new ones.
 * Retryable failures (database, pool shutting down) are thrown for the caller to retry.
 */
export async function matchImage(deps: MatchImageDeps, event: ImageReceived): Promise<ProcessedImage> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  let options: BackendOptions;
  try {
    options = deps.backend.resolveOptions(event.options);
  } catch (err) {
    return finish(deps, event, failed(event, hash(event.event_id), toAppError(err), now, deps.backend.resolveOptions(undefined)));
  }

  let bytes: Uint8Array;
  try {
    bytes = event.image.kind === 'bytes' ? event.image.bytes : await deps.resolve(event.image);
  } catch (err) {
    const e = toAppError(err);
    if (e.retryable && e.code !== ErrorCode.URL_FETCH_FAILED) throw e;
    return finish(deps, event, failed(event, hash(event.event_id), e, now, options));
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const imageId = hash(sha256, options.model, options.detector);
  const limit = deps.maxMatchesPerFace ?? 5;

  let analysis;
  try {
    analysis = await deps.backend.search(bytes, { ...options, limit, topK: deps.policy.topK });
  } catch (err) {
    const e = toAppError(err);
    if (e.retryable) throw e;
    return finish(deps, event, { ...failed(event, imageId, e, now, options), sha256 });
  }

  // thresholds depend on how many people a stranger is compared with
  const people = analysis.faces.length === 0 ? 0 : (await deps.store.persons.list({ offset: 0, limit: 1 })).total;
  const faces: FaceRecord[] = [];
  const evidence: FaceEvidence[] = [];
  for (const [faceIndex, face] of analysis.faces.entries()) {
    const decision = deps.policy.decide(face, people, options);
    faces.push(await describeFace(deps.store, face, decision, { faceIndex, options, limit }));
    if (face.evidence) {
      evidence.push({ face_index: faceIndex, kind: 'aligned', content_type: 'image/jpeg', bytes: face.evidence.aligned });
      evidence.push({ face_index: faceIndex, kind: 'context', content_type: 'image/jpeg', bytes: face.evidence.context });
    }
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
  const alerts = faces.flatMap((face) => {
    const alert = alertForFace(result, face, analysis.faces[face.face_index]?.embedding ?? null, deps.backend.referenceModel);
    return alert ? [alert] : [];
  });
  return finish(deps, event, result, { alerts, evidence });
}

function failed(event: ImageReceived, id: string, error: AppError, now: string, options: Pick<BackendOptions, 'model' | 'detector' | 'metric'>): ProcessedImage {
  return {
    id,
    image_path_or_identifier: event.identifier,
    source: event.source,
    sha256: event.sha256 ?? null,
    stored_image_path: null,
    width: null,
    height: null,
    model_name: options.model,
    detector_backend: options.detector,
    distance_metric: options.metric,
    faces: [],
    matched: false,
    error: { code: error.code, message: error.message },
    processed_at: now,
  };
}

/**
 * Persist, then publish: the result first (with its alerts, evidence and webhook deliveries, in
 * one transaction), then one alert per matched person and face.
 */
async function finish(deps: MatchImageDeps, event: ImageReceived, result: ProcessedImage, extras: ResultExtras = {}): Promise<ProcessedImage> {
  try {
    await timed('persist', () => deps.store.processed.save(result, extras));
  } catch (err) {
    throw toAppError(err, ErrorCode.DB_UNAVAILABLE);
  }
  const publishEnd = metrics.stageSeconds.startTimer({ stage: 'publish' });
  for (const face of result.faces) {
    for (const m of face.blacklist_matches) {
      const alert: FaceMatched = {
        alert_id: alertIdFor(result.id, face.face_index, result.model_name, m.person_id),
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
  publishEnd();
  metrics.imagesProcessed.inc({ source: result.source, outcome: result.error ? 'error' : 'ok' });
  for (const face of result.faces) metrics.facesProcessed.inc({ decision: face.decision });
  for (const alert of extras.alerts ?? []) metrics.alerts.inc({ decision: alert.decision });
  deps.log.info({ imageId: result.id, faces: result.faces.length, matched: result.matched, error: result.error?.code }, 'image processed');
  return result;
}
