import {
  CompareFacesCommand,
  CreateCollectionCommand,
  DeleteFacesCommand,
  DescribeCollectionCommand,
  DetectFacesCommand,
  IndexFacesCommand,
  ListFacesCommand,
  RekognitionClient,
  SearchFacesByImageCommand,
  type BoundingBox,
  type Face,
  type FaceDetail,
  type Image,
  type Landmark,
  type CompareFacesCommandOutput,
  type SearchFacesByImageCommandOutput,
} from '@aws-sdk/client-rekognition';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';
import { callAws, type AwsRetryPolicy } from './aws-calls.js';

/**
 * A thin typed adapter over one Rekognition collection: each method is one AWS operation (or a
 * loop of them), sent through {@link callAws} for retries and error mapping, with the answer
 * checked for the fields facewatch relies on (a missing FaceId is BACKEND_FAILED, not a crash).
 * Nothing here knows about persons or the store; the Rekognition backend builds on it.
 */

export interface RekognitionCollectionOptions {
  client: RekognitionClient;
  collectionId: string;
  log: Logger;
  retry: AwsRetryPolicy;
}

/**
 * A client for the region with the SDK's own retries off (`maxAttempts: 1`): callAws retries.
 * Credentials come from the default provider chain (environment, shared files, SSO, instance or
 * task role).
 */
export function createRekognitionClient(options: { region: string; endpoint?: string }): RekognitionClient {
  return new RekognitionClient({ region: options.region, maxAttempts: 1, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
}

/** A box or point as ratios of the image (Rekognition's convention). */
export interface RatioBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export type RekognitionLandmarkName = 'eyeLeft' | 'eyeRight' | 'nose' | 'mouthLeft' | 'mouthRight';

export interface RekognitionFace {
  box: RatioBox;
  /** 0..100 */
  confidence: number;
  /** the 5 landmarks eyeLeft, eyeRight, nose, mouthLeft, mouthRight as ratios, when present */
  landmarks: Partial<Record<RekognitionLandmarkName, { x: number; y: number }>>;
  quality?: { brightness?: number; sharpness?: number };
}

export type RekognitionImage = { bytes: Uint8Array } | { s3: { bucket: string; key: string } };

export type RekognitionQualityFilter = 'NONE' | 'AUTO' | 'LOW' | 'MEDIUM' | 'HIGH';

export interface RekognitionSearchResult {
  /** The face Rekognition searched (the largest of the image); undefined when the image has none. */
  searched: { box: RatioBox; confidence: number } | undefined;
  /** Highest similarity first, as Rekognition orders them. */
  matches: { faceId: string; externalImageId?: string; similarity: number; box?: RatioBox }[];
}

export interface RekognitionIndexResult {
  indexed: { faceId: string; imageId?: string; box: RatioBox; confidence: number }[];
  /** Faces detected but not indexed, with Rekognition's reasons (EXCEEDS_MAX_FACES, LOW_SHARPNESS, …). */
  unindexed: { reasons: string[]; box?: RatioBox; confidence?: number }[];
  faceModelVersion?: string;
}

export interface RekognitionListedFace {
  faceId: string;
  externalImageId?: string;
  imageId?: string;
}

/** API limits (Rekognition API reference). */
const DELETE_BATCH = 4096;
const MAX_PAGE_SIZE = 4096;
const MAX_SEARCH_FACES = 4096;
const EXTERNAL_IMAGE_ID = /^[a-zA-Z0-9_.\-:]+$/;
const EXTERNAL_IMAGE_ID_MAX = 255;
const COLLECTION_ID = /^[a-zA-Z0-9_.-]+$/;
const FACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const landmarkNames: ReadonlySet<string> = new Set<RekognitionLandmarkName>(['eyeLeft', 'eyeRight', 'nose', 'mouthLeft', 'mouthRight']);

export class RekognitionCollection {
  readonly collectionId: string;
  private readonly client: RekognitionClient;
  private readonly log: Logger;
  private readonly retry: AwsRetryPolicy;

  constructor(options: RekognitionCollectionOptions) {
    if (!COLLECTION_ID.test(options.collectionId) || options.collectionId.length > 255) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `invalid Rekognition collection id ${JSON.stringify(options.collectionId)}: 1-255 characters of [a-zA-Z0-9_.-]`);
    }
    this.client = options.client;
    this.collectionId = options.collectionId;
    this.log = options.log.child({ component: 'rekognition', collectionId: options.collectionId });
    this.retry = options.retry;
  }

  /**
   * DescribeCollection; on ResourceNotFoundException CreateCollection; a
   * ResourceAlreadyExistsException from a concurrent creator counts as existing. Returns whether
   * it created it, and the face model version.
   */
  async ensureCollection(): Promise<{ created: boolean; faceModelVersion?: string; faceCount?: number }> {
    const existing = await this.describe();
    if (existing) return { created: false, ...existing };

    const created = await callAws<{ faceModelVersion: string | undefined } | undefined>(
      'rekognition:CreateCollection',
      this.retry,
      this.log,
      async () => {
        const out = await this.client.send(new CreateCollectionCommand({ CollectionId: this.collectionId }));
        return { faceModelVersion: out.FaceModelVersion };
      },
      (err) => (awsErrorName(err) === 'ResourceAlreadyExistsException' ? { value: undefined } : undefined),
    );
    if (created) {
      this.log.info({ faceModelVersion: created.faceModelVersion }, 'created the Rekognition collection');
      return { created: true, faceCount: 0, ...definedOnly({ faceModelVersion: created.faceModelVersion }) };
    }
    // Another process created it between our Describe and Create: it exists; describe it again
    // for the model version (still eventually consistent, so a NotFound here is not an error).
    this.log.info('the Rekognition collection was created concurrently');
    return { created: false, ...((await this.describe()) ?? {}) };
  }

  /** DetectFaces with Attributes ['DEFAULT']; faces in the order returned. */
  async detectFaces(image: RekognitionImage): Promise<RekognitionFace[]> {
    const Image = toAwsImage(image);
    const out = await callAws('rekognition:DetectFaces', this.retry, this.log, () => this.client.send(new DetectFacesCommand({ Image, Attributes: ['DEFAULT'] })));
    return (out.FaceDetails ?? []).map((detail, i) => toFace(detail, `DetectFaces FaceDetails[${i}]`));
  }

  /**
   * SearchFacesByImage with an explicit FaceMatchThreshold (0..100) and MaxFaces; QualityFilter
   * 'NONE' (the caller already chose the face). Rekognition answers InvalidParameterException
   * when the image has no face: that case is `{ searched: undefined, matches: [] }`; other
   * InvalidParameterExceptions are errors.
   */
  async searchFacesByImage(image: RekognitionImage, options: { faceMatchThreshold: number; maxFaces: number }): Promise<RekognitionSearchResult> {
    const { faceMatchThreshold, maxFaces } = options;
    if (!Number.isFinite(faceMatchThreshold) || faceMatchThreshold < 0 || faceMatchThreshold > 100) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `faceMatchThreshold must be within 0..100, got ${faceMatchThreshold}`);
    }
    checkCount('maxFaces', maxFaces, MAX_SEARCH_FACES);
    const Image = toAwsImage(image);
    const out = await callAws<SearchFacesByImageCommandOutput | undefined>(
      'rekognition:SearchFacesByImage',
      this.retry,
      this.log,
      () =>
        this.client.send(
          new SearchFacesByImageCommand({
            CollectionId: this.collectionId,
            Image,
            FaceMatchThreshold: faceMatchThreshold,
            MaxFaces: maxFaces,
            QualityFilter: 'NONE',
          }),
        ),
      (err) => (isNoFaceError(err) ? { value: undefined } : undefined),
    );
    if (!out) return { searched: undefined, matches: [] };

    const what = 'SearchFacesByImage';
    const searched = out.SearchedFaceBoundingBox
      ? { box: requireBox(out.SearchedFaceBoundingBox, `${what} SearchedFaceBoundingBox`), confidence: requireNumber(out.SearchedFaceConfidence, `${what} SearchedFaceConfidence`) }
      : undefined;
    const matches = (out.FaceMatches ?? []).map((match, i) => {
      const where = `${what} FaceMatches[${i}]`;
      const face = match.Face;
      const faceId = requireString(face?.FaceId, `${where}.Face.FaceId`);
      const similarity = requireNumber(match.Similarity, `${where}.Similarity`);
      const box = optionalBox(face?.BoundingBox);
      return { faceId, similarity, ...definedOnly({ externalImageId: face?.ExternalImageId, box }) };
    });
    if (!searched && matches.length > 0) throw malformed(`${what} returned matches without SearchedFaceBoundingBox`);
    return { searched, matches };
  }

  /** IndexFaces with ExternalImageId, MaxFaces, QualityFilter and DetectionAttributes ['DEFAULT']. */
  async indexFaces(image: RekognitionImage, options: { externalImageId: string; maxFaces?: number; qualityFilter: RekognitionQualityFilter }): Promise<RekognitionIndexResult> {
    const { externalImageId, maxFaces, qualityFilter } = options;
    checkExternalImageId(externalImageId);
    if (maxFaces !== undefined) checkCount('maxFaces', maxFaces, Number.MAX_SAFE_INTEGER);
    const Image = toAwsImage(image);
    const out = await callAws('rekognition:IndexFaces', this.retry, this.log, () =>
      this.client.send(
        new IndexFacesCommand({
          CollectionId: this.collectionId,
          Image,
          ExternalImageId: externalImageId,
          DetectionAttributes: ['DEFAULT'],
          QualityFilter: qualityFilter,
          ...(maxFaces === undefined ? {} : { MaxFaces: maxFaces }),
        }),
      ),
    );
    const indexed = (out.FaceRecords ?? []).map((record, i) => {
      const where = `IndexFaces FaceRecords[${i}].Face`;
      const face = record.Face;
      return {
        faceId: requireString(face?.FaceId, `${where}.FaceId`),
        box: requireBox(face?.BoundingBox, `${where}.BoundingBox`),
        confidence: requireNumber(face?.Confidence, `${where}.Confidence`),
        ...definedOnly({ imageId: face?.ImageId }),
      };
    });
    const unindexed = (out.UnindexedFaces ?? []).map((face) => ({
      reasons: (face.Reasons ?? []).map(String),
      ...definedOnly({ box: optionalBox(face.FaceDetail?.BoundingBox), confidence: optionalNumber(face.FaceDetail?.Confidence) }),
    }));
    return { indexed, unindexed, ...definedOnly({ faceModelVersion: out.FaceModelVersion }) };
  }

  /**
   * CompareFaces (no collection): the largest face of `source` against every face of `target`,
   * with SimilarityThreshold 0 so that every target face gets its similarity. A source without a
   * face is `{ sourceFace: false }` (Rekognition answers InvalidParameterException); a target
   * without one has no matches.
   */
  async compareFaces(source: RekognitionImage, target: RekognitionImage): Promise<{ sourceFace: boolean; similarities: number[] }> {
    const out = await callAws<CompareFacesCommandOutput | undefined>(
      'rekognition:CompareFaces',
      this.retry,
      this.log,
      () => this.client.send(new CompareFacesCommand({ SourceImage: toAwsImage(source), TargetImage: toAwsImage(target), SimilarityThreshold: 0, QualityFilter: 'NONE' })),
      (err) => (isNoFaceError(err) ? { value: undefined } : undefined),
    );
    if (!out) return { sourceFace: false, similarities: [] };
    const similarities = (out.FaceMatches ?? []).map((m, i) => requireNumber(m.Similarity, `CompareFaces FaceMatches[${i}].Similarity`)).sort((a, b) => b - a);
    return { sourceFace: true, similarities };
  }

  /** DeleteFaces in batches of at most 4096 ids; returns the ids AWS reports deleted. Empty input: no call. */
  async deleteFaces(faceIds: readonly string[]): Promise<string[]> {
    for (const id of faceIds) {
      if (typeof id !== 'string' || !FACE_ID.test(id)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `not a Rekognition face id: ${JSON.stringify(id)}`);
    }
    const deleted: string[] = [];
    for (let start = 0; start < faceIds.length; start += DELETE_BATCH) {
      const batch = faceIds.slice(start, start + DELETE_BATCH);
      const out = await callAws('rekognition:DeleteFaces', this.retry, this.log, () =>
        this.client.send(new DeleteFacesCommand({ CollectionId: this.collectionId, FaceIds: batch })),
      );
      for (const id of out.DeletedFaces ?? []) deleted.push(requireString(id, 'DeleteFaces DeletedFaces[]'));
      const failed = out.UnsuccessfulFaceDeletions ?? [];
      if (failed.length > 0) {
        this.log.warn({ failed: failed.length, sample: failed.slice(0, 5).map((f) => ({ faceId: f.FaceId, reasons: f.Reasons })) }, 'Rekognition did not delete some faces');
      }
    }
    return deleted;
  }

  /** ListFaces, following NextToken until the end (MaxResults pageSize, default 4096). */
  async *listFaces(options: { pageSize?: number } = {}): AsyncIterable<RekognitionListedFace> {
    const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
    checkCount('pageSize', pageSize, MAX_PAGE_SIZE);
    const seen = new Set<string>();
    let nextToken: string | undefined;
    let page = 0;
    do {
      const token = nextToken;
      const out = await callAws('rekognition:ListFaces', this.retry, this.log, () =>
        this.client.send(new ListFacesCommand({ CollectionId: this.collectionId, MaxResults: pageSize, ...(token === undefined ? {} : { NextToken: token }) })),
      );
      const faces = (out.Faces ?? []).map((face, i) => toListedFace(face, `ListFaces page ${page} Faces[${i}]`));
      for (const face of faces) yield face;
      nextToken = out.NextToken || undefined;
      if (nextToken !== undefined) {
        // A token handed back twice would loop for ever.
        if (seen.has(nextToken)) throw malformed('ListFaces returned a NextToken it had already returned');
        seen.add(nextToken);
      }
      page++;
    } while (nextToken !== undefined);
  }

  /** DescribeCollection: the collection's model version and face count; undefined when it does not exist. */
  async describe(): Promise<{ faceModelVersion?: string; faceCount?: number } | undefined> {
    return callAws<{ faceModelVersion?: string; faceCount?: number } | undefined>(
      'rekognition:DescribeCollection',
      this.retry,
      this.log,
      async () => {
        const out = await this.client.send(new DescribeCollectionCommand({ CollectionId: this.collectionId }));
        return definedOnly({ faceModelVersion: out.FaceModelVersion, faceCount: optionalNumber(out.FaceCount) });
      },
      (err) => (awsErrorName(err) === 'ResourceNotFoundException' ? { value: undefined } : undefined),
    );
  }
}

function awsErrorName(err: unknown): string | undefined {
  return err && typeof err === 'object' && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : undefined;
}

/**
 * SearchFacesByImage's "no face" answer: an InvalidParameterException whose message says so
 * ("There are no faces in the image. Should be at least 1."). The message is the only way to
 * tell it from other InvalidParameterExceptions (a bad threshold, a bad collection id…).
 */
function isNoFaceError(err: unknown): boolean {
  if (awsErrorName(err) !== 'InvalidParameterException') return false;
  const e = err as { message?: unknown; Message?: unknown };
  const text = `${typeof e.message === 'string' ? e.message : ''} ${typeof e.Message === 'string' ? e.Message : ''}`;
  return /no faces? (?:in|found in) the (?:source |target )?image/i.test(text);
}

function toAwsImage(image: RekognitionImage): Image {
  if ('bytes' in image) {
    if (!(image.bytes instanceof Uint8Array)) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'image bytes must be a Uint8Array');
    if (image.bytes.byteLength === 0) throw new AppError(ErrorCode.IMAGE_EMPTY, 'the image is empty (0 bytes)');
    return { Bytes: image.bytes };
  }
  const { bucket, key } = (image.s3 ?? {}) as { bucket?: unknown; key?: unknown };
  if (typeof bucket !== 'string' || bucket === '' || typeof key !== 'string' || key === '') {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, 'an S3 image needs a bucket and a key');
  }
  return { S3Object: { Bucket: bucket, Name: key } };
}

function checkExternalImageId(id: string): void {
  if (typeof id !== 'string' || id.length > EXTERNAL_IMAGE_ID_MAX || !EXTERNAL_IMAGE_ID.test(id)) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `invalid Rekognition ExternalImageId ${JSON.stringify(id)}: 1-${EXTERNAL_IMAGE_ID_MAX} characters of [a-zA-Z0-9_.-:]`);
  }
}

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer within 1..${max}, got ${value}`);
  }
}

function malformed(message: string): AppError {
  return new AppError(ErrorCode.BACKEND_FAILED, `unexpected AWS Rekognition answer: ${message}`);
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw malformed(`${what} is missing`);
  return value;
}

function requireNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw malformed(`${what} is missing or not a number`);
  return value;
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function optionalBox(box: BoundingBox | undefined): RatioBox | undefined {
  if (!box) return undefined;
  const { Left, Top, Width, Height } = box;
  if ([Left, Top, Width, Height].every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return { left: Left as number, top: Top as number, width: Width as number, height: Height as number };
  }
  return undefined;
}

/** Ratios as Rekognition gives them (Left/Top may be slightly negative for faces cut by the edge). */
function requireBox(box: BoundingBox | undefined, what: string): RatioBox {
  const ratio = optionalBox(box);
  if (!ratio) throw malformed(`${what} is missing or incomplete`);
  return ratio;
}

function toFace(detail: FaceDetail, what: string): RekognitionFace {
  const face: RekognitionFace = {
    box: requireBox(detail.BoundingBox, `${what}.BoundingBox`),
    confidence: requireNumber(detail.Confidence, `${what}.Confidence`),
    landmarks: toLandmarks(detail.Landmarks),
  };
  const brightness = optionalNumber(detail.Quality?.Brightness);
  const sharpness = optionalNumber(detail.Quality?.Sharpness);
  if (brightness !== undefined || sharpness !== undefined) face.quality = definedOnly({ brightness, sharpness });
  return face;
}

function toLandmarks(landmarks: Landmark[] | undefined): RekognitionFace['landmarks'] {
  const out: RekognitionFace['landmarks'] = {};
  for (const mark of landmarks ?? []) {
    if (!mark.Type || !landmarkNames.has(mark.Type)) continue;
    const x = optionalNumber(mark.X);
    const y = optionalNumber(mark.Y);
    if (x === undefined || y === undefined) continue;
    out[mark.Type as RekognitionLandmarkName] = { x, y };
  }
  return out;
}

function toListedFace(face: Face, what: string): RekognitionListedFace {
  return { faceId: requireString(face.FaceId, `${what}.FaceId`), ...definedOnly({ externalImageId: face.ExternalImageId, imageId: face.ImageId }) };
}

/** Drops undefined properties, so results deep-equal objects written without them. */
function definedOnly<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
