import { AppError, DetectorName, DistanceMetric, EmbedderName, ErrorCode, type AwsConfig, type Logger, type MatchOptions } from '@facewatch/core';
import type { FacialAreaRecord, ReferenceFace } from '@facewatch/db';
import type { BackendOptions, DetectedFace, DetectedImage, FaceBackend, FaceCandidate, IndexOutcome, ReferenceInput, SearchedImage, SearchOptions } from '../backend.js';
import { cropJpeg, prepareForRekognition, type PreparedImage } from './prepare-image.js';
import type { RatioBox, RekognitionCollection, RekognitionFace, RekognitionImage } from './rekognition-collection.js';
import type { S3ReferenceStore } from './s3-reference-store.js';

/** Names the local backend accepts: asked of this one, they get UNSUPPORTED_BY_BACKEND rather than INVALID_ARGUMENT. */
const localNames = [...DetectorName, ...EmbedderName, ...DistanceMetric];

/** What results report as model, detector and metric with this backend. */
export const REKOGNITION_MODEL = 'aws_rekognition';
export const REKOGNITION_METRIC = 'rekognition_similarity';

/**
 * Rekognition answers a Similarity in percent; the API speaks in distances with a maximum. The one
 * formula: `distance = 1 − Similarity / 100`, and a request's `threshold` (a maximum distance) is
 * sent as `FaceMatchThreshold = 100 × (1 − threshold)`. The default threshold is
 * 1 − AWS_REKOGNITION_FACE_MATCH_THRESHOLD / 100 (0.2 for 80 %). docs/face-thresholds.md.
 */
export const similarityToDistance = (similarity: number): number => Number((1 - similarity / 100).toFixed(6));
export const distanceToSimilarity = (distance: number): number => Math.min(100, Math.max(0, Number((100 * (1 - distance)).toFixed(4))));

export interface RekognitionBackendOptions {
  collection: RekognitionCollection;
  references: S3ReferenceStore;
  config: AwsConfig;
  /** facewatch's own image limits (MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS), checked before anything is sent. */
  limits: { maxBytes: number; maxPixels: number };
  log: Logger;
  /** SearchFacesByImage calls in flight per image (Rekognition's TPS quota is per account). */
  searchConcurrency?: number;
  /** Released on close (the clients). */
  onClose?: () => void;
}

/** Margin around a face when it is cut out for its own search, as a share of the box. */
const cropMargin = 0.3;
/** Faces are enlarged to at least this many pixels on their shorter side before a search. */
const minSearchFacePx = 112;

/**
 * The AWS Rekognition backend: reference faces live in a collection (ExternalImageId = person id),
 * reference images in S3. SearchFacesByImage only searches the largest face of an image, so each
 * face DetectFaces finds is cut out (with a margin, enlarged when small) and searched on its own.
 */
export class RekognitionBackend implements FaceBackend {
  readonly kind = 'aws_rekognition';
  readonly referenceStorage = 'object-store';
  readonly referenceModel = REKOGNITION_MODEL;
  private readonly log: Logger;
  private lastCheck: { at: number; result: { ready: boolean; detail: Record<string, unknown> } } | undefined;

  private constructor(private readonly options: RekognitionBackendOptions) {
    this.log = options.log.child({ component: 'rekognition' });
  }

  /** Creates the collection when it is missing (AWS_REKOGNITION_COLLECTION_ID) and checks the bucket. */
  static async open(options: RekognitionBackendOptions): Promise<RekognitionBackend> {
    const backend = new RekognitionBackend(options);
    const collection = await options.collection.ensureCollection();
    await options.references.check();
    backend.log.info(
      { collectionId: options.config.collectionId, created: collection.created, faceModelVersion: collection.faceModelVersion, bucket: options.config.bucket },
      collection.created ? 'Rekognition collection created' : 'Rekognition collection found',
    );
    return backend;
  }

  resolveOptions(options: MatchOptions | undefined): BackendOptions {
    const foreign = (field: string, value: string | undefined, own: string) => {
      if (value === undefined || value === null || value === '' || value === own) return;
      if (!(localNames as readonly string[]).includes(value)) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `${field} "${value}" is not supported; use ${own} or leave it out`, { details: { field, supported: [own] } });
      }
      throw new AppError(ErrorCode.UNSUPPORTED_BY_BACKEND, `${field} "${value}" belongs to the local backend; this deployment uses aws_rekognition (leave ${field} out)`, {
        details: { field, supported: [own] },
      });
    };
    foreign('detector_backend', options?.detector_backend, REKOGNITION_MODEL);
    foreign('model_name', options?.model_name, REKOGNITION_MODEL);
    foreign('distance_metric', options?.distance_metric, REKOGNITION_METRIC);
    const threshold = options?.threshold;
    if (threshold !== undefined && threshold !== null && !(typeof threshold === 'number' && threshold >= 0 && threshold <= 1)) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, 'with aws_rekognition, threshold is a maximum distance 1 − similarity/100, from 0 to 1', { details: { field: 'threshold' } });
    }
    return {
      model: REKOGNITION_MODEL,
      detector: REKOGNITION_MODEL,
      metric: REKOGNITION_METRIC,
      maxDistance: threshold ?? Number((1 - this.options.config.faceMatchThreshold / 100).toFixed(6)),
      // Rekognition's similarities are not calibrated here: every decision is by its threshold
      explicitThreshold: true,
    };
  }

  async detect(bytes: Uint8Array): Promise<DetectedImage> {
    const image = await this.prepare(bytes);
    const faces = await this.options.collection.detectFaces({ bytes: image.bytes });
    return { width: image.width, height: image.height, format: image.format, faces: this.toDetected(faces, image) };
  }

  /**
   * CompareFaces: the largest face of `a` against every face of `b`; the best similarity is the
   * verdict's distance (1 − Similarity / 100). Rekognition compares the largest face of the first
   * image where the local backend takes the most confident one.
   */
  async compare(a: Uint8Array, b: Uint8Array): Promise<{ distance: number }> {
    const [first, second] = await Promise.all([this.prepare(a), this.prepare(b)]);
    const result = await this.options.collection.compareFaces({ bytes: first.bytes }, { bytes: second.bytes });
    const noFace = !result.sourceFace ? 'img1' : result.similarities.length === 0 ? 'img2' : undefined;
    if (noFace) throw new AppError(ErrorCode.NO_FACE, `no face found in ${noFace}`, { details: { field: noFace } });
    return { distance: similarityToDistance(result.similarities[0]!) };
  }

  async search(bytes: Uint8Array, options: SearchOptions): Promise<SearchedImage> {
    const image = await this.prepare(bytes);
    const found = await this.options.collection.detectFaces({ bytes: image.bytes });
    if (found.length === 0) return { width: image.width, height: image.height, format: image.format, faces: [] };
    const faces = found.map((face) => ({ face, detected: this.toDetectedFace(face, image) })).sort((a, b) => b.detected.confidence - a.detected.confidence);
    const raw = await image.pixels();
    const threshold = distanceToSimilarity(options.maxDistance);
    const searched = await mapLimit(faces, this.options.searchConcurrency ?? 4, async ({ face, detected }) => {
      // the crop comes from the pixels of the image Rekognition saw (same aspect ratio), so its ratios apply
      const crop = await cropJpeg(raw, ...cropRegion(toPixels(face.box, raw.width, raw.height), raw.width, raw.height));
      const { matches } = await this.options.collection.searchFacesByImage({ bytes: crop }, { faceMatchThreshold: threshold, maxFaces: Math.min(4096, options.limit * 5) });
      const candidates: FaceCandidate[] = matches
        .map((m) => ({ faceId: m.faceId, distance: similarityToDistance(m.similarity) }))
        .filter((c) => c.distance <= options.maxDistance)
        .sort((a, b) => a.distance - b.distance);
      return { ...detected, candidates };
    });
    return { width: image.width, height: image.height, format: image.format, faces: searched };
  }

  /**
   * Stores the image in S3, then IndexFaces with ExternalImageId = the person id and the quality
   * filter. One indexed face is the answer; none is NO_FACE (or FACE_REJECTED with Rekognition's
   * reasons); several are MULTIPLE_FACES and are deleted again, with the object.
   */
  async indexReference(reference: ReferenceInput): Promise<IndexOutcome> {
    let image: PreparedImage;
    try {
      image = await this.prepare(reference.bytes);
    } catch (err) {
      if (err instanceof AppError && !err.retryable) return { indexed: false, code: err.code, message: err.message };
      throw err;
    }
    await this.options.references.put(reference.key, reference.bytes, contentTypes[image.format] ?? 'application/octet-stream');
    // the stored original is what Rekognition reads when it can; otherwise the upright JPEG is sent
    const stored = this.options.references.location(reference.key);
    const source: RekognitionImage = image.unchanged ? { s3: { bucket: stored.bucket, key: stored.objectKey } } : { bytes: image.bytes };
    let result;
    try {
      result = await this.options.collection.indexFaces(source, { externalImageId: reference.personId, maxFaces: 2, qualityFilter: this.options.config.qualityFilter });
    } catch (err) {
      await this.options.references.delete([reference.key]).catch((deleteErr: unknown) => {
        // the object stays behind as an orphan; the next reconcile lists it
        this.log.warn({ err: deleteErr, key: reference.key }, 'could not delete the reference image of a face Rekognition did not index');
      });
      if (err instanceof AppError && !err.retryable && err.code !== ErrorCode.BACKEND_FAILED) return { indexed: false, code: err.code, message: err.message };
      throw err;
    }
    const several = result.indexed.length > 1 || result.unindexed.some((u) => u.reasons.includes('EXCEEDS_MAX_FACES'));
    if (result.indexed.length === 1 && !several) {
      const face = result.indexed[0]!;
      const box = toPixels(face.box, image.width, image.height);
      return {
        indexed: true,
        format: image.format,
        faces: [{ id: face.faceId, imageId: reference.imageId, personId: reference.personId, model: REKOGNITION_MODEL, embedding: new Float32Array(0), norm: 0, box }],
      };
    }
    await this.options.collection.deleteFaces(result.indexed.map((f) => f.faceId));
    await this.options.references.delete([reference.key]);
    if (several) {
      const count = result.indexed.length + result.unindexed.filter((u) => u.reasons.includes('EXCEEDS_MAX_FACES')).length;
      return { indexed: false, code: ErrorCode.MULTIPLE_FACES, message: `${count === 2 ? 'at least 2' : count} faces found; a reference image must show one person` };
    }
    if (result.unindexed.length === 0) return { indexed: false, code: ErrorCode.NO_FACE, message: 'no face found in the image' };
    const reasons = [...new Set(result.unindexed.flatMap((u) => u.reasons))];
    return {
      indexed: false,
      code: ErrorCode.FACE_REJECTED,
      message: `AWS Rekognition did not index the face (${reasons.join(', ')}); quality filter ${this.options.config.qualityFilter}`,
    };
  }

  async commitReference(): Promise<void> {
    // IndexFaces made the face searchable already
  }

  readReference(key: string): Promise<Uint8Array | undefined> {
    return this.options.references.get(key);
  }

  async removeReferences(references: { faceIds: readonly string[]; keys: readonly string[] }): Promise<void> {
    await this.options.collection.deleteFaces(references.faceIds);
    if (references.keys.length > 0) await this.options.references.delete(references.keys);
  }

  /**
   * Faces in the collection the store does not know (IndexFaces done, then a crash before the
   * store's write; or a rejected image whose delete failed) are deleted. The collection must be
   * facewatch's own. Faces the store has but the collection lacks cannot be re-created with the
   * same ids: they are reported, and the person must be enrolled again.
   */
  async reconcile(storeFaces: readonly ReferenceFace[]): Promise<{ added: number; removed: number }> {
    const known = new Set(storeFaces.filter((f) => f.model === REKOGNITION_MODEL).map((f) => f.id));
    const orphans: string[] = [];
    const seen = new Set<string>();
    for await (const face of this.options.collection.listFaces()) {
      seen.add(face.faceId);
      if (!known.has(face.faceId)) orphans.push(face.faceId);
    }
    if (orphans.length > 0) {
      await this.options.collection.deleteFaces(orphans);
      this.log.warn({ faces: orphans.length }, 'deleted collection faces no watch-list person owns');
    }
    const missing = [...known].filter((id) => !seen.has(id));
    if (missing.length > 0)
      this.log.error({ faces: missing.length, faceIds: missing.slice(0, 20) }, 'reference faces missing from the Rekognition collection; enrol those persons again');
    return { added: 0, removed: orphans.length };
  }

  /** Checked at most every 15 s: DescribeCollection and HeadBucket cost a call each. */
  async readiness(): Promise<{ ready: boolean; detail: Record<string, unknown> }> {
    if (this.lastCheck && Date.now() - this.lastCheck.at < 15_000) return this.lastCheck.result;
    let result: { ready: boolean; detail: Record<string, unknown> };
    try {
      // a probe only looks: a collection deleted behind facewatch's back is reported, not re-created empty
      const collection = await this.options.collection.describe();
      await this.options.references.check();
      result = collection
        ? { ready: true, detail: { collection: this.options.config.collectionId, faces: collection.faceCount ?? null } }
        : { ready: false, detail: { collection: this.options.config.collectionId, error: 'COLLECTION_MISSING' } };
    } catch (err) {
      result = { ready: false, detail: { error: err instanceof AppError ? err.code : 'INTERNAL' } };
    }
    this.lastCheck = { at: Date.now(), result };
    return result;
  }

  async close(): Promise<void> {
    this.options.onClose?.();
  }

  private prepare(bytes: Uint8Array): Promise<PreparedImage> {
    return prepareForRekognition(bytes, this.options.limits);
  }

  private toDetected(faces: readonly RekognitionFace[], image: PreparedImage): DetectedFace[] {
    return faces.map((f) => this.toDetectedFace(f, image)).sort((a, b) => b.confidence - a.confidence);
  }

  private toDetectedFace(face: RekognitionFace, image: PreparedImage): DetectedFace {
    return { facial_area: toFacialArea(face, image.width, image.height), confidence: Number((face.confidence / 100).toFixed(4)) };
  }
}

const contentTypes: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', tiff: 'image/tiff' };

function toPixels(box: RatioBox, width: number, height: number): { x: number; y: number; w: number; h: number } {
  return { x: box.left * width, y: box.top * height, w: box.width * width, h: box.height * height };
}

/**
 * deepface's facial_area from Rekognition's ratios. `left_eye` is the person's left eye, on the
 * image's right: the eyes (and mouth corners) are told apart by x, whatever the landmark names.
 * Without landmarks (not expected with DEFAULT attributes), typical positions in the box are used.
 */
function toFacialArea(face: RekognitionFace, width: number, height: number): FacialAreaRecord {
  const b = toPixels(face.box, width, height);
  const point = (name: keyof RekognitionFace['landmarks'], fx: number, fy: number): [number, number] => {
    const p = face.landmarks[name];
    return p ? [p.x * width, p.y * height] : [b.x + fx * b.w, b.y + fy * b.h];
  };
  const eyes = [point('eyeLeft', 0.3, 0.38), point('eyeRight', 0.7, 0.38)].sort((p, q) => p[0] - q[0]);
  const mouth = [point('mouthLeft', 0.35, 0.78), point('mouthRight', 0.65, 0.78)].sort((p, q) => p[0] - q[0]);
  const round = (p: [number, number]): [number, number] => [Math.round(p[0]), Math.round(p[1])];
  const x = Math.max(0, Math.round(b.x));
  const y = Math.max(0, Math.round(b.y));
  return {
    x,
    y,
    w: Math.min(width, Math.round(b.x + b.w)) - x,
    h: Math.min(height, Math.round(b.y + b.h)) - y,
    left_eye: round(eyes[1]!),
    right_eye: round(eyes[0]!),
    nose: round(point('nose', 0.5, 0.58)),
    mouth_left: round(mouth[1]!),
    mouth_right: round(mouth[0]!),
  };
}

/** The face's box with a margin, clamped to the image, and the factor that enlarges a small face. */
export function cropRegion(
  box: { x: number; y: number; w: number; h: number },
  width: number,
  height: number,
): [{ left: number; top: number; width: number; height: number }, number] {
  const left = Math.max(0, Math.floor(box.x - box.w * cropMargin));
  const top = Math.max(0, Math.floor(box.y - box.h * cropMargin));
  const right = Math.min(width, Math.ceil(box.x + box.w * (1 + cropMargin)));
  const bottom = Math.min(height, Math.ceil(box.y + box.h * (1 + cropMargin)));
  const region = { left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
  const shorter = Math.max(1, Math.min(box.w, box.h));
  return [region, Math.min(4, Math.max(1, minSearchFacePx / shorter))];
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
