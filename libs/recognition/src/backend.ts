import type { MatchOptions } from '@facewatch/core';
import type { FacialAreaRecord, ReferenceFace, VectorIndex } from '@facewatch/db';
import type { FaceEvidenceCrops, FaceQuality } from '@facewatch/face';

/**
 * Where faces are found and recognised. Two implementations: `local` (the ONNX models of
 * libs/face and a VectorIndex of the store) and `aws_rekognition` (a Rekognition collection with
 * the reference images in S3). The matcher and the API use only this interface, so the HTTP API
 * and the events are the same whichever backend runs.
 *
 * The store (persons, reference images, reference faces) stays the source of truth for who is on
 * the watch-list; a backend keeps its own index of the reference faces (vectors, or the
 * collection) and answers with reference-face ids the store can name.
 */
export interface FaceBackend {
  readonly kind: 'local' | 'aws_rekognition';
  /**
   * Where reference images live. `folder`: blacklist_db/ is the truth (a file removed by hand is
   * un-indexed). `object-store`: the backend keeps them (S3); blacklist_db/ is a drop folder whose
   * files are enrolled and then removed locally.
   */
  readonly referenceStorage: 'folder' | 'object-store';
  /** Validates a request's options against what this backend supports, with the configured defaults. */
  resolveOptions(options: MatchOptions | undefined): BackendOptions;
  /** Every face of the image, most confident first (empty when none). */
  detect(bytes: Uint8Array, options: BackendOptions): Promise<DetectedImage>;
  /** The store's vector index of the reference faces this backend searches; only the local backend has one. */
  searchIndex?(): Promise<VectorIndex>;
  /** Every face with its embedding; only backends that expose embeddings (local) have it. */
  embed?(bytes: Uint8Array, options: BackendOptions): Promise<EmbeddedImage>;
  /**
   * deepface's verify: the distance between the main face of `a` and of `b`, on this backend's
   * scale. An image without a face is NO_FACE with `details.field` 'img1' or 'img2'.
   */
  compare(a: Uint8Array, b: Uint8Array, options: BackendOptions): Promise<{ distance: number }>;
  /**
   * Detects every face and searches each one in the watch-list (not only the largest). `topK`:
   * how many of a person's closest references their score averages (backends that score people).
   */
  search(bytes: Uint8Array, options: SearchOptions): Promise<SearchedImage>;
  /**
   * Indexes one reference image of a person: it must show exactly one usable face. A rejection
   * (no face, several faces, too low quality, unreadable image) is an answer, not an exception;
   * retryable failures (service unavailable) are thrown.
   */
  indexReference(reference: ReferenceInput): Promise<IndexOutcome>;
  /**
   * Called once the store has saved the faces indexReference returned: makes them searchable
   * (local: upserts the vectors; Rekognition: nothing, IndexFaces already did). Keeping the
   * store's write first means a crash leaves at most index entries missing, which reconcile adds.
   */
  commitReference(faces: readonly ReferenceFace[]): Promise<void>;
  /** With `object-store`: a reference image's bytes by its key (`<person folder>/<file>`), undefined when absent. */
  readReference?(key: string): Promise<Uint8Array | undefined>;
  /** Removes reference faces from the index and, with `object-store`, the image objects. Unknown ids are ignored. */
  removeReferences(references: { faceIds: readonly string[]; keys: readonly string[] }): Promise<void>;
  /**
   * Brings the index in line with the store's reference faces after a crash between the two
   * writes: faces the store has but the index lacks are re-added (when the backend can), faces the
   * index has but the store does not are removed. Returns what it changed.
   */
  reconcile(storeFaces: readonly ReferenceFace[]): Promise<{ added: number; removed: number }>;
  /** Reference-face model name in the store (`reference_faces.model`). */
  readonly referenceModel: string;
  /** Readiness: the backend can answer (models loaded, collection reachable). */
  readiness(): Promise<{ ready: boolean; detail: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** A request's options after validation: names reported in results, and the threshold to apply. */
export interface BackendOptions {
  /** Reported as `model_name`. */
  model: string;
  /** Reported as `detector_backend`. */
  detector: string;
  /** Reported as `distance_metric`. */
  metric: string;
  /** Largest distance that is still a match, on this backend's scale. */
  maxDistance: number;
  /**
   * The request (or DISTANCE_THRESHOLD) gave the threshold: decide by the nearest reference's
   * distance, as the server facewatch replaces did, instead of the calibrated rule.
   */
  explicitThreshold: boolean;
}

export interface SearchOptions extends BackendOptions {
  /** Persons reported per face at most. */
  limit: number;
  /** A person's score averages their topK most similar references (default 1: the nearest). */
  topK?: number;
}

export interface DetectedFace {
  facial_area: FacialAreaRecord;
  /** 0..1 */
  confidence: number;
}

export interface DetectedImage {
  width: number;
  height: number;
  /** Decoded format (jpeg, png, …): names the saved copy. */
  format: string;
  faces: DetectedFace[];
}

export interface EmbeddedImage extends Omit<DetectedImage, 'faces'> {
  faces: (DetectedFace & { embedding: Float32Array; norm: number })[];
}

/** A reference face close to a searched face. */
export interface FaceCandidate {
  /** Reference-face id in the store. */
  faceId: string;
  /** On the backend's scale (see BackendOptions.maxDistance); within maxDistance. */
  distance: number;
}

/** A watch-list person scored against a face. */
export interface PersonCandidate {
  personId: string;
  /** Mean cosine similarity of the face to the person's topK most similar references. */
  score: number;
  /** The person's closest reference and its distance in the request's metric (names the match). */
  nearest: FaceCandidate;
}

export interface SearchedFace extends DetectedFace {
  /** Nearest first, all within maxDistance, at most `limit` persons' worth. */
  candidates: FaceCandidate[];
  /**
   * The closest people by score, best first (at most limit + 1): backends that score people
   * (local). Absent: the backend only names references (Rekognition), decide by distance.
   */
  persons?: PersonCandidate[];
  /** What the gates look at, when the backend measures it (local). */
  quality?: FaceQuality;
  /** Crops for people to look at (local). */
  evidence?: FaceEvidenceCrops;
  /** The face's unit embedding, when the backend has one (local): kept with alerts for calibration feedback. */
  embedding?: Float32Array;
}

export interface SearchedImage extends Omit<DetectedImage, 'faces'> {
  faces: SearchedFace[];
}

export interface ReferenceInput {
  personId: string;
  /** Id of the reference image row the faces will belong to. */
  imageId: string;
  /** `<person folder>/<file name>`: the object key below the bucket's prefix with `object-store`. */
  key: string;
  bytes: Uint8Array;
}

export type IndexOutcome = { indexed: true; format: string; faces: ReferenceFace[] } | { indexed: false; code: string; message: string };
