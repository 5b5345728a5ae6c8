import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ImageTooLargeException,
  InvalidImageFormatException,
  InvalidPaginationTokenException,
  InvalidParameterException,
  InvalidS3ObjectException,
  RekognitionClient,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  ThrottlingException,
  type BoundingBox,
  type Face,
  type FaceDetail,
  type FaceMatch,
  type FaceRecord,
  type Image,
  type Landmark,
  type Pose,
  type ImageQuality,
  type UnindexedFace,
} from '@aws-sdk/client-rekognition';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';

/**
 * A fake Amazon Rekognition for end-to-end tests: every `RekognitionClient` (and `Rekognition`)
 * created while it is installed answers from memory, with response shapes as in the Rekognition
 * API reference, while the faces are really found and compared by facewatch's own local pipeline
 * (`FacePool`). The code under test builds its clients as usual; nothing reaches AWS.
 *
 * What is fake, and how it differs from the service:
 * - Similarity: `clamp(100 · (1 − d · 0.2 / 0.63), 0, 100)` from the cosine distance d between the
 *   local unit embeddings, so the locally calibrated cosine threshold 0.63 lands on similarity 80
 *   (Rekognition's default FaceMatchThreshold). This is the fake's calibration, not AWS's: real
 *   similarities are not comparable.
 * - Quality filter: with QualityFilter other than NONE (IndexFaces defaults to AUTO), faces whose
 *   bounding box is smaller than {@link MIN_FACE_SIDE_PX} px on its shorter side are not indexed
 *   (Reasons ['SMALL_BOUNDING_BOX']) and not searched; no other quality reason is produced.
 * - FaceDetail: only the DEFAULT attributes (BoundingBox, Confidence, Landmarks with the five
 *   default types, Pose, Quality), whatever `Attributes`/`DetectionAttributes` ask for. Pose is a
 *   rough geometric estimate from the five landmarks; Quality is measured on the face's pixels
 *   (Brightness: mean luminance; Sharpness: spread of the Laplacian), both 0..100.
 * - Bounding boxes are clipped to the image (the service's may extend past its edges).
 * - ListFaces: MaxResults defaults to 1000 (the service's maximum is 4096, also enforced here).
 * - When the local face pool is saturated (POOL_BUSY) the call fails with ThrottlingException,
 *   as the service does past its TPS limit.
 */
export interface FakeRekognitionOptions {
  /** The face pipeline that does the real work (a `FacePool` in tests). */
  faces: {
    analyse(bytes: Uint8Array, options: { embed?: boolean }): Promise<{ width: number; height: number; faces: Array<FakeAnalysedFace> }>;
  };
  /** Reads Image.S3Object images (a real S3 client pointed at moto in our tests). */
  s3?: S3Client;
}

/** A face as the local pipeline reports it: box in pixels, score 0..1, five landmarks, unit embedding. */
export interface FakeAnalysedFace {
  box: { x: number; y: number; w: number; h: number };
  score: number;
  /** Image-left eye, image-right eye, nose, image-left mouth corner, image-right mouth corner (pixels). */
  landmarks: readonly [number, number][];
  embedding?: Float32Array;
}

export interface FakeRekognition {
  /** Every command received, in order: { name: 'IndexFaces', input } */
  readonly calls: { name: string; input: unknown }[];
  /** Faces per collection (for assertions); 0 for a collection that does not exist. */
  faceCount(collectionId: string): number;
  /**
   * Make the next n calls of a command fail with an SDK exception (e.g. ThrottlingException), to test retries end to end.
   * `command` is the operation name ('IndexFaces'; 'IndexFacesCommand' works too). The calls are still recorded.
   */
  failNext(command: string, error: Error, times?: number): void;
  /** Puts the real `RekognitionClient#send` back (a no-op when another mock has replaced this one). */
  restore(): void;
}

/** The face model version the fake reports (collections, IndexFaces, searches). */
export const FAKE_FACE_MODEL_VERSION = '7.0';
/** The fake's quality rule: faces smaller than this on the shorter side are filtered out. */
export const MIN_FACE_SIDE_PX = 40;
/** The fake's calibration: this cosine distance maps to similarity 80. */
export const FAKE_COSINE_AT_SIMILARITY_80 = 0.63;

const MAX_BYTES_INLINE = 5 * 1024 * 1024;
const MAX_BYTES_S3 = 15 * 1024 * 1024;
const DEFAULT_FACE_MATCH_THRESHOLD = 80;
const LIST_FACES_DEFAULT = 1000;
const LIST_FACES_MAX = 4096;
const INDEX_FACES_LIMIT = 100;
const ACCOUNT = '123456789012';
const QUALITY_FILTERS = new Set(['NONE', 'AUTO', 'LOW', 'MEDIUM', 'HIGH']);

/** Cosine distance between unit embeddings → the fake's similarity (see the module comment). */
export function fakeSimilarity(cosineDistance: number): number {
  return Math.min(100, Math.max(0, 100 * (1 - (cosineDistance * 0.2) / FAKE_COSINE_AT_SIMILARITY_80)));
}

interface StoredFace {
  seq: number;
  face: Required<Pick<Face, 'FaceId' | 'BoundingBox' | 'ImageId' | 'Confidence' | 'IndexFacesModelVersion'>> & Pick<Face, 'ExternalImageId'>;
  embedding: Float32Array;
}

interface Collection {
  id: string;
  arn: string;
  created: Date;
  faces: Map<string, StoredFace>;
  nextSeq: number;
}

interface DetectedFace {
  source: FakeAnalysedFace;
  box: BoundingBox;
  detail: FaceDetail;
  /** Shorter side of the box in pixels. */
  minSidePx: number;
  areaPx: number;
}

type ErrorClass = new (opts: { message: string; Message?: string; Code?: string; Logref?: string; $metadata: object }) => Error;

/** An SDK exception as the client would have deserialised it from the service's answer. */
function awsError(Ctor: ErrorClass, message: string): Error {
  const name = (Ctor as unknown as { name: string }).name;
  return new Ctor({
    message,
    Message: message,
    Code: name,
    Logref: randomUUID(),
    $metadata: { httpStatusCode: 400, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
  });
}

const metadata = () => ({ $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 } });

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const degrees = (radians: number): number => (radians * 180) / Math.PI;

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}
function isPng(b: Uint8Array): boolean {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return b.length >= sig.length && sig.every((v, i) => b[i] === v);
}

function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return 1 - dot;
}

/**
 * Rough head pose from the five landmarks (degrees): roll from the eye line, yaw from how far the
 * nose sits from the eyes' midpoint, pitch from where the nose sits between eyes and mouth.
 */
function estimatePose(eyeL: [number, number], eyeR: [number, number], nose: [number, number], mouthL: [number, number], mouthR: [number, number]): Pose {
  const dx = eyeR[0] - eyeL[0],
    dy = eyeR[1] - eyeL[1];
  const eyeDist = Math.hypot(dx, dy) || 1;
  const roll = Math.atan2(dy, dx);
  // nose relative to the eye midpoint, in the face's own (roll-corrected) frame
  const mid: [number, number] = [(eyeL[0] + eyeR[0]) / 2, (eyeL[1] + eyeR[1]) / 2];
  const cos = Math.cos(-roll),
    sin = Math.sin(-roll);
  const rot = (p: [number, number]): [number, number] => [(p[0] - mid[0]) * cos - (p[1] - mid[1]) * sin, (p[0] - mid[0]) * sin + (p[1] - mid[1]) * cos];
  const n = rot(nose);
  const m = rot([(mouthL[0] + mouthR[0]) / 2, (mouthL[1] + mouthR[1]) / 2]);
  const yaw = degrees(Math.asin(clamp((2 * n[0]) / eyeDist, -1, 1))) * 0.75;
  const ratio = m[1] > 0 ? n[1] / m[1] : 0.5;
  const pitch = clamp((0.55 - ratio) * 180, -90, 90);
  return { Roll: degrees(roll), Yaw: clamp(yaw, -90, 90), Pitch: pitch };
}

/** Brightness and sharpness (0..100) of each face box, measured on a greyscale copy of the image. */
async function measureQuality(bytes: Uint8Array, width: number, height: number, boxes: readonly { x: number; y: number; w: number; h: number }[]): Promise<ImageQuality[]> {
  if (boxes.length === 0) return [];
  const maxSide = 1600;
  const factor = Math.min(1, maxSide / Math.max(width, height));
  const { data, info } = await sharp(bytes)
    .rotate()
    .resize({ width: Math.max(1, Math.round(width * factor)), height: Math.max(1, Math.round(height * factor)), fit: 'fill' })
    .flatten({ background: '#ffffff' })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const W = info.width,
    H = info.height,
    C = info.channels;
  const sx = W / width,
    sy = H / height;
  const at = (x: number, y: number): number => data[(y * W + x) * C]!;
  return boxes.map((b) => {
    const x0 = clamp(Math.floor(b.x * sx), 0, W - 1),
      x1 = clamp(Math.ceil((b.x + b.w) * sx), x0 + 1, W);
    const y0 = clamp(Math.floor(b.y * sy), 0, H - 1),
      y1 = clamp(Math.ceil((b.y + b.h) * sy), y0 + 1, H);
    let sum = 0,
      count = 0,
      lapSum = 0,
      lapSq = 0,
      lapCount = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const v = at(x, y);
        sum += v;
        count++;
        if (x > 0 && y > 0 && x < W - 1 && y < H - 1) {
          const lap = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4 * v;
          lapSum += lap;
          lapSq += lap * lap;
          lapCount++;
        }
      }
    }
    const mean = count ? sum / count : 0;
    const lapStd = lapCount ? Math.sqrt(Math.max(0, lapSq / lapCount - (lapSum / lapCount) ** 2)) : 0;
    return { Brightness: clamp((mean / 255) * 100, 0, 100), Sharpness: clamp(100 * (1 - Math.exp(-lapStd / 12)), 0, 100) };
  });
}

/** The fake's state and its one entry point, shared by the SDK mock and the HTTP server forms. */
interface FakeCore extends Omit<FakeRekognition, 'restore'> {
  /** Runs one operation: records it, applies queued failures, answers like the service. */
  dispatch(name: string, input: Record<string, unknown>, client: unknown): Promise<object>;
}

function createFakeCore(options: FakeRekognitionOptions): FakeCore {
  const collections = new Map<string, Collection>();
  const calls: { name: string; input: unknown }[] = [];
  const failures = new Map<string, Error[]>();

  const collectionOf = (id: unknown): Collection => {
    if (typeof id !== 'string' || id === '') throw awsError(InvalidParameterException, 'CollectionId is required');
    const c = collections.get(id);
    if (!c) throw awsError(ResourceNotFoundException, `The collection id: ${id} does not exist`);
    return c;
  };

  async function region(client: unknown): Promise<string> {
    const r = (client as { config?: { region?: unknown } } | undefined)?.config?.region;
    try {
      const value = typeof r === 'function' ? await (r as () => Promise<string>)() : r;
      return typeof value === 'string' && value ? value : 'us-east-1';
    } catch {
      return 'us-east-1';
    }
  }

  /** The bytes of an Image, with the service's size and format checks. */
  async function imageBytes(image: Image | undefined): Promise<Uint8Array> {
    let bytes: Uint8Array;
    if (image?.Bytes !== undefined && image.S3Object === undefined) {
      bytes = image.Bytes;
      if (!(bytes instanceof Uint8Array)) throw awsError(InvalidParameterException, 'Image.Bytes must be binary data');
      if (bytes.byteLength > MAX_BYTES_INLINE) throw awsError(ImageTooLargeException, 'Image size is too large.');
    } else if (image?.S3Object !== undefined && image.Bytes === undefined) {
      bytes = await readS3(image.S3Object);
    } else {
      throw awsError(InvalidParameterException, 'Image must have exactly one of Bytes or S3Object');
    }
    if (!isJpeg(bytes) && !isPng(bytes)) throw awsError(InvalidImageFormatException, 'Request has invalid image format');
    return bytes;
  }

  async function readS3(object: NonNullable<Image['S3Object']>): Promise<Uint8Array> {
    if (!options.s3) throw new Error('FakeRekognition: Image.S3Object was used but installFakeRekognition was given no s3 client');
    const unreadable = () => awsError(InvalidS3ObjectException, 'Unable to get object metadata from S3. Check object key, region and/or access permissions.');
    if (!object.Bucket || !object.Name) throw unreadable();
    let out;
    try {
      out = await options.s3.send(new GetObjectCommand({ Bucket: object.Bucket, Key: object.Name, VersionId: object.Version }));
    } catch {
      throw unreadable();
    }
    const body = out.Body as { transformToByteArray(): Promise<Uint8Array>; destroy?: () => void } | undefined;
    if (!body) throw unreadable();
    if ((out.ContentLength ?? 0) > MAX_BYTES_S3) {
      body.destroy?.();
      throw awsError(ImageTooLargeException, 'Image size is too large.');
    }
    const bytes = await body.transformToByteArray();
    if (bytes.byteLength > MAX_BYTES_S3) throw awsError(ImageTooLargeException, 'Image size is too large.');
    return bytes;
  }

  /** Runs the local pipeline; the faces come back largest first, with their FaceDetail. */
  async function detect(bytes: Uint8Array, embed: boolean): Promise<DetectedFace[]> {
    let result: Awaited<ReturnType<FakeRekognitionOptions['faces']['analyse']>>;
    try {
      result = await options.faces.analyse(bytes, { embed });
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'IMAGE_TOO_LARGE') throw awsError(ImageTooLargeException, 'Image size is too large.');
      if (code.startsWith('IMAGE_')) throw awsError(InvalidImageFormatException, 'Request has invalid image format');
      if (code === 'POOL_BUSY') throw awsError(ThrottlingException, 'Rate exceeded');
      throw err;
    }
    const { width, height } = result;
    const faces = [...result.faces].sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h);
    const quality = await measureQuality(
      bytes,
      width,
      height,
      faces.map((f) => f.box),
    );
    return faces.map((f, i) => {
      const box: BoundingBox = { Width: f.box.w / width, Height: f.box.h / height, Left: f.box.x / width, Top: f.box.y / height };
      const [p0, p1, nose, p3, p4] = f.landmarks as [number, number][];
      if (!p0 || !p1 || !nose || !p3 || !p4) throw new Error('FakeRekognition: the face pipeline returned fewer than 5 landmarks');
      // Rekognition's eyeLeft/mouthLeft are the ones on the image's left (smaller X)
      const [eyeL, eyeR] = p0[0] <= p1[0] ? [p0, p1] : [p1, p0];
      const [mouthL, mouthR] = p3[0] <= p4[0] ? [p3, p4] : [p4, p3];
      const mark = (Type: Landmark['Type'], p: [number, number]): Landmark => ({ Type, X: p[0] / width, Y: p[1] / height });
      const detail: FaceDetail = {
        BoundingBox: { ...box },
        Landmarks: [mark('eyeLeft', eyeL), mark('eyeRight', eyeR), mark('nose', nose), mark('mouthLeft', mouthL), mark('mouthRight', mouthR)],
        Pose: estimatePose(eyeL, eyeR, nose, mouthL, mouthR),
        Quality: quality[i]!,
        Confidence: clamp(f.score * 100, 0, 100),
      };
      return { source: f, box, detail, minSidePx: Math.min(f.box.w, f.box.h), areaPx: f.box.w * f.box.h };
    });
  }

  const qualityFilterOf = (value: unknown, fallback: string): string => {
    const q = value === undefined ? fallback : value;
    if (typeof q !== 'string' || !QUALITY_FILTERS.has(q)) throw awsError(InvalidParameterException, `QualityFilter must be one of ${[...QUALITY_FILTERS].join(', ')}`);
    return q;
  };
  const passesQuality = (f: DetectedFace, filter: string): boolean => filter === 'NONE' || f.minSidePx >= MIN_FACE_SIDE_PX;
  const intIn = (value: unknown, name: string, lo: number, hi: number, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi)
      throw awsError(InvalidParameterException, `${name} must be an integer from ${lo} to ${hi}`);
    return value;
  };
  const faceOut = (s: StoredFace): Face => ({ ...s.face, BoundingBox: { ...s.face.BoundingBox } });

  type Handler = (input: Record<string, unknown>, client: unknown) => Promise<object>;
  const handlers: Record<string, Handler> = {
    async CreateCollection(input, client) {
      const id = input['CollectionId'];
      if (typeof id !== 'string' || !/^[a-zA-Z0-9_.-]{1,255}$/.test(id)) throw awsError(InvalidParameterException, 'CollectionId must match [a-zA-Z0-9_.\\-]+');
      if (collections.has(id)) throw awsError(ResourceAlreadyExistsException, `The collection id: ${id} already exists`);
      const arn = `aws:rekognition:${await region(client)}:${ACCOUNT}:collection/${id}`;
      collections.set(id, { id, arn, created: new Date(), faces: new Map(), nextSeq: 0 });
      return { StatusCode: 200, CollectionArn: arn, FaceModelVersion: FAKE_FACE_MODEL_VERSION };
    },

    async DescribeCollection(input) {
      const c = collectionOf(input['CollectionId']);
      return { FaceCount: c.faces.size, UserCount: 0, FaceModelVersion: FAKE_FACE_MODEL_VERSION, CollectionARN: c.arn, CreationTimestamp: new Date(c.created) };
    },

    async DeleteCollection(input) {
      const c = collectionOf(input['CollectionId']);
      collections.delete(c.id);
      return { StatusCode: 200 };
    },

    async DetectFaces(input) {
      const bytes = await imageBytes(input['Image'] as Image | undefined);
      const faces = await detect(bytes, false);
      return { FaceDetails: faces.map((f) => f.detail) };
    },

    async IndexFaces(input) {
      const id = input['CollectionId'];
      collectionOf(id);
      const maxFaces = intIn(input['MaxFaces'], 'MaxFaces', 1, Number.MAX_SAFE_INTEGER, INDEX_FACES_LIMIT);
      const filter = qualityFilterOf(input['QualityFilter'], 'AUTO');
      const externalImageId = input['ExternalImageId'];
      if (externalImageId !== undefined && (typeof externalImageId !== 'string' || !/^[a-zA-Z0-9_.\-:]{1,255}$/.test(externalImageId))) {
        throw awsError(InvalidParameterException, 'ExternalImageId must match [a-zA-Z0-9_.\\-:]+');
      }
      const bytes = await imageBytes(input['Image'] as Image | undefined);
      const faces = (await detect(bytes, true)).slice(0, INDEX_FACES_LIMIT);
      const c = collectionOf(id); // it may have been deleted while the image was analysed
      const imageId = randomUUID();
      const records: FaceRecord[] = [];
      const unindexed: UnindexedFace[] = [];
      for (const f of faces) {
        if (!passesQuality(f, filter)) unindexed.push({ Reasons: ['SMALL_BOUNDING_BOX'], FaceDetail: f.detail });
        else if (records.length >= Math.min(maxFaces, INDEX_FACES_LIMIT)) unindexed.push({ Reasons: ['EXCEEDS_MAX_FACES'], FaceDetail: f.detail });
        else {
          const stored: StoredFace = {
            seq: c.nextSeq++,
            face: {
              FaceId: randomUUID(),
              BoundingBox: { ...f.box },
              ImageId: imageId,
              ...(typeof externalImageId === 'string' ? { ExternalImageId: externalImageId } : {}),
              Confidence: f.detail.Confidence!,
              IndexFacesModelVersion: FAKE_FACE_MODEL_VERSION,
            },
            embedding: f.source.embedding!,
          };
          if (!stored.embedding) throw new Error('FakeRekognition: the face pipeline returned no embedding');
          c.faces.set(stored.face.FaceId, stored);
          records.push({ Face: faceOut(stored), FaceDetail: f.detail });
        }
      }
      return { FaceRecords: records, UnindexedFaces: unindexed, FaceModelVersion: FAKE_FACE_MODEL_VERSION };
    },

    async SearchFacesByImage(input) {
      const id = input['CollectionId'];
      collectionOf(id);
      const maxFaces = intIn(input['MaxFaces'], 'MaxFaces', 1, 4096, 4096);
      const thresholdIn = input['FaceMatchThreshold'];
      if (thresholdIn !== undefined && (typeof thresholdIn !== 'number' || thresholdIn < 0 || thresholdIn > 100)) {
        throw awsError(InvalidParameterException, 'FaceMatchThreshold must be from 0 to 100');
      }
      const threshold = (thresholdIn as number | undefined) ?? DEFAULT_FACE_MATCH_THRESHOLD;
      const filter = qualityFilterOf(input['QualityFilter'], 'NONE');
      const bytes = await imageBytes(input['Image'] as Image | undefined);
      // like the service: only the largest face (after the quality filter) is searched
      const searched = (await detect(bytes, true)).find((f) => passesQuality(f, filter));
      if (!searched) throw awsError(InvalidParameterException, 'There are no faces in the image. Should be at least 1.');
      const c = collectionOf(id);
      const probe = searched.source.embedding!;
      const matches: FaceMatch[] = [...c.faces.values()]
        .map((s) => ({ Similarity: fakeSimilarity(cosineDistance(probe, s.embedding)), Face: faceOut(s) }))
        .filter((m) => m.Similarity >= threshold)
        .sort((a, b) => b.Similarity - a.Similarity)
        .slice(0, maxFaces);
      return {
        SearchedFaceBoundingBox: { ...searched.box },
        SearchedFaceConfidence: searched.detail.Confidence,
        FaceMatches: matches,
        FaceModelVersion: FAKE_FACE_MODEL_VERSION,
      };
    },

    async CompareFaces(input) {
      const thresholdIn = input['SimilarityThreshold'];
      if (thresholdIn !== undefined && (typeof thresholdIn !== 'number' || thresholdIn < 0 || thresholdIn > 100)) {
        throw awsError(InvalidParameterException, 'SimilarityThreshold must be from 0 to 100');
      }
      const threshold = (thresholdIn as number | undefined) ?? DEFAULT_FACE_MATCH_THRESHOLD;
      const filter = qualityFilterOf(input['QualityFilter'], 'NONE');
      // like the service: the largest face of the source against every face of the target
      const source = (await detect(await imageBytes(input['SourceImage'] as Image | undefined), true)).find((f) => passesQuality(f, filter));
      if (!source) throw awsError(InvalidParameterException, 'There are no faces in the source image. Should be at least 1.');
      const targets = (await detect(await imageBytes(input['TargetImage'] as Image | undefined), true)).filter((f) => passesQuality(f, filter));
      const compared = targets.map((t) => ({
        Similarity: fakeSimilarity(cosineDistance(source.source.embedding!, t.source.embedding!)),
        Face: { BoundingBox: { ...t.box }, Confidence: t.detail.Confidence },
      }));
      return {
        SourceImageFace: { BoundingBox: { ...source.box }, Confidence: source.detail.Confidence },
        FaceMatches: compared.filter((m) => m.Similarity >= threshold).sort((a, b) => b.Similarity - a.Similarity),
        UnmatchedFaces: compared.filter((m) => m.Similarity < threshold).map((m) => m.Face),
      };
    },

    async ListFaces(input) {
      const c = collectionOf(input['CollectionId']);
      const max = intIn(input['MaxResults'], 'MaxResults', 1, LIST_FACES_MAX, LIST_FACES_DEFAULT);
      let after = -1;
      const token = input['NextToken'];
      if (token !== undefined) {
        const parsed = typeof token === 'string' ? /^fake:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8')) : null;
        if (!parsed) throw awsError(InvalidPaginationTokenException, 'Invalid pagination token');
        after = Number(parsed[1]);
      }
      const only = Array.isArray(input['FaceIds']) ? new Set(input['FaceIds'] as string[]) : undefined;
      const rest = [...c.faces.values()].filter((s) => s.seq > after && (!only || only.has(s.face.FaceId)));
      const page = rest.slice(0, max);
      const more = rest.length > page.length;
      return {
        Faces: page.map(faceOut),
        ...(more ? { NextToken: Buffer.from(`fake:${page[page.length - 1]!.seq}`, 'utf8').toString('base64url') } : {}),
        FaceModelVersion: FAKE_FACE_MODEL_VERSION,
      };
    },

    async DeleteFaces(input) {
      const c = collectionOf(input['CollectionId']);
      const ids = input['FaceIds'];
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > 4096 || ids.some((i) => typeof i !== 'string')) {
        throw awsError(InvalidParameterException, 'FaceIds must list 1 to 4096 face ids');
      }
      const deleted: string[] = [];
      const unsuccessful: { FaceId: string; Reasons: ['FACE_NOT_FOUND'] }[] = [];
      for (const faceId of new Set(ids as string[])) {
        if (c.faces.delete(faceId)) deleted.push(faceId);
        else unsuccessful.push({ FaceId: faceId, Reasons: ['FACE_NOT_FOUND'] });
      }
      return { DeletedFaces: deleted, UnsuccessfulFaceDeletions: unsuccessful };
    },
  };

  async function dispatch(name: string, input: Record<string, unknown>, client: unknown): Promise<object> {
    calls.push({ name, input });
    const queued = failures.get(name);
    if (queued && queued.length > 0) {
      const err = queued.shift()!;
      if (queued.length === 0) failures.delete(name);
      throw err;
    }
    const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
    if (!handler) throw new Error(`FakeRekognition does not implement ${name}; add it to libs/recognition/src/testing/fake-rekognition.ts`);
    return handler(input, client);
  }

  return {
    calls,
    dispatch,
    faceCount: (collectionId) => collections.get(collectionId)?.faces.size ?? 0,
    failNext(command, error, times = 1) {
      const name = command.replace(/Command$/, '');
      const queue = failures.get(name) ?? [];
      for (let i = 0; i < times; i++) queue.push(error);
      failures.set(name, queue);
    },
  };
}

/** Installs the fake on every RekognitionClient of this process until {@link FakeRekognition.restore}. */
export function installFakeRekognition(options: FakeRekognitionOptions): FakeRekognition {
  const core = createFakeCore(options);
  const mock = mockClient(RekognitionClient);
  mock.send.callsFake(async function (this: unknown, command: { input?: unknown; constructor: { name: string } }) {
    const output = await core.dispatch(command.constructor.name.replace(/Command$/, ''), (command.input ?? {}) as Record<string, unknown>, this);
    return { ...output, ...metadata() };
  });
  return {
    calls: core.calls,
    faceCount: core.faceCount,
    failNext: core.failNext,
    restore() {
      // only while this fake's stub is the one installed (a later mockClient(RekognitionClient) replaces it)
      if (RekognitionClient.prototype.send === mock.send) mock.restore();
    },
  };
}

export interface FakeRekognitionServer extends Omit<FakeRekognition, 'restore'> {
  /** http://host:port — give it to the SDK as the Rekognition endpoint (AWS_ENDPOINT_URL_REKOGNITION). */
  url: string;
  close(): Promise<void>;
}

/**
 * The same fake as a server speaking Rekognition's wire protocol (AWS JSON 1.1: `POST /` with
 * `X-Amz-Target: RekognitionService.<Operation>`), so that several processes (the scale profile's
 * api and matchers) share one collection, and the SDK's own serialisation is exercised. Signatures
 * are not checked. Errors are answered as the service does: status 400 (500 for InternalServerError)
 * and `{"__type": "<ExceptionName>", "Message": "…"}`.
 */
export async function serveFakeRekognition(options: FakeRekognitionOptions, listen: { port?: number; host?: string } = {}): Promise<FakeRekognitionServer> {
  const core = createFakeCore(options);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => {
        // timestamps are epoch seconds in AWS JSON (the replacer sees the Date before its toJSON)
        const text = JSON.stringify(body, function (this: Record<string, unknown>, key: string, value: unknown) {
          const raw = this[key];
          return raw instanceof Date ? raw.getTime() / 1000 : value;
        });
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() }).end(text);
      };
      const target = String(req.headers['x-amz-target'] ?? '');
      if (req.method !== 'POST' || !target.startsWith('RekognitionService.'))
        return answer(400, { __type: 'UnknownOperationException', Message: `no operation in X-Amz-Target "${target}"` });
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return answer(400, { __type: 'SerializationException', Message: 'the body is not JSON' });
      }
      // blobs travel as base64 in AWS JSON: give the handlers bytes, as the SDK mock does
      for (const field of ['Image', 'SourceImage', 'TargetImage']) {
        const image = input[field] as { Bytes?: unknown } | undefined;
        if (image && typeof image.Bytes === 'string') image.Bytes = new Uint8Array(Buffer.from(image.Bytes, 'base64'));
      }
      const region = /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers['authorization'] ?? ''))?.[1] ?? 'us-east-1';
      core.dispatch(target.slice('RekognitionService.'.length), input, { config: { region } }).then(
        (output) => answer(200, output),
        (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
          const status = err.name === 'Error' ? 500 : (err.$metadata?.httpStatusCode ?? 400);
          answer(err.name === 'InternalServerError' ? 500 : status, { __type: err.name === 'Error' ? 'InternalServerError' : err.name, Message: err.message });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${listen.host ?? '127.0.0.1'}:${address.port}`,
    calls: core.calls,
    faceCount: core.faceCount,
    failNext: core.failNext,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
