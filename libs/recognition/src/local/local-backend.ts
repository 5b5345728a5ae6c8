import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, resolveMatchOptions, toAppError, type FaceConfig, type MatchOptions } from '@facewatch/core';
import type { ReferenceFace, Store, VectorIndex } from '@facewatch/db';
import { defaultMaxDistance, distance, toFacialArea, type AnalyseOptions, type AnalyseResult, type PoolStats } from '@facewatch/face';
import type { BackendOptions, DetectedImage, EmbeddedImage, FaceBackend, FaceCandidate, IndexOutcome, ReferenceInput, SearchedImage } from '../backend.js';

/** The inference pool as the local backend uses it (FacePool implements it). */
export interface FaceAnalyser {
  analyse(bytes: Uint8Array, options: AnalyseOptions): Promise<AnalyseResult>;
  readonly stats: PoolStats;
  close(): Promise<void>;
}

export interface LocalBackendOptions {
  faces: FaceAnalyser;
  store: Pick<Store, 'vectorIndex' | 'references'>;
  config: FaceConfig;
}

const dimensions = 512;

/**
 * The local backend: libs/face's models in the worker pool find and embed faces; the store's
 * VectorIndex (SQLite exact scan or pgvector HNSW) finds the nearest reference faces.
 */
export class LocalBackend implements FaceBackend {
  readonly kind = 'local';
  readonly referenceStorage = 'folder';
  readonly referenceModel: string;

  constructor(private readonly options: LocalBackendOptions) {
    this.referenceModel = options.config.embedder;
  }

  resolveOptions(options: MatchOptions | undefined): BackendOptions {
    const resolved = resolveMatchOptions(options, this.options.config);
    return { model: resolved.model, detector: resolved.detector, metric: resolved.metric, maxDistance: resolved.maxDistance ?? defaultMaxDistance(resolved.metric) };
  }

  async detect(bytes: Uint8Array, options: BackendOptions): Promise<DetectedImage> {
    const result = await this.analyse(bytes, options, false);
    return { width: result.width, height: result.height, format: result.format, faces: result.faces.map((f) => ({ facial_area: toFacialArea(f), confidence: round4(f.score) })) };
  }

  async embed(bytes: Uint8Array, options: BackendOptions): Promise<EmbeddedImage> {
    const result = await this.analyse(bytes, options, true);
    return {
      width: result.width,
      height: result.height,
      format: result.format,
      faces: result.faces.map((f) => ({ facial_area: toFacialArea(f), confidence: round4(f.score), embedding: f.embedding!, norm: f.norm! })),
    };
  }

  /** The most confident face of each image, by the request's metric. */
  async compare(a: Uint8Array, b: Uint8Array, options: BackendOptions): Promise<{ distance: number }> {
    const [first, second] = await Promise.all([this.embed(a, options), this.embed(b, options)]);
    const faces = [first.faces[0], second.faces[0]];
    faces.forEach((f, i) => {
      if (!f) throw new AppError(ErrorCode.NO_FACE, `no face found in img${i + 1}`, { details: { field: `img${i + 1}` } });
    });
    return { distance: distance(options.metric as FaceConfig['distanceMetric'], faces[0]!, faces[1]!) };
  }

  async search(bytes: Uint8Array, options: BackendOptions & { limit: number }): Promise<SearchedImage> {
    const result = await this.analyse(bytes, options, true);
    const index = await this.index(options.model);
    const faces = [];
    for (const face of result.faces) {
      faces.push({
        facial_area: toFacialArea(face),
        confidence: round4(face.score),
        candidates: await this.nearest(index, face.embedding!, face.norm!, options),
      });
    }
    return { width: result.width, height: result.height, format: result.format, faces };
  }

  async indexReference(reference: ReferenceInput): Promise<IndexOutcome> {
    let result: AnalyseResult;
    try {
      result = await this.options.faces.analyse(reference.bytes, { embed: true });
    } catch (err) {
      const e = toAppError(err);
      if (e.retryable) throw e;
      return { indexed: false, code: e.code, message: e.message };
    }
    if (result.faces.length === 0) return { indexed: false, code: ErrorCode.NO_FACE, message: 'no face found in the image' };
    if (result.faces.length > 1) return { indexed: false, code: ErrorCode.MULTIPLE_FACES, message: `${result.faces.length} faces found; a reference image must show one person` };
    const face = result.faces[0]!;
    return {
      indexed: true,
      format: result.format,
      faces: [
        {
          id: randomUUID(),
          imageId: reference.imageId,
          personId: reference.personId,
          model: this.referenceModel,
          embedding: face.embedding!,
          norm: face.norm!,
          box: face.box,
        },
      ],
    };
  }

  async commitReference(faces: readonly ReferenceFace[]): Promise<void> {
    if (faces.length === 0) return;
    await (await this.index(this.referenceModel)).upsert(faces.map((f) => ({ id: f.id, vector: f.embedding })));
  }

  async removeReferences(references: { faceIds: readonly string[] }): Promise<void> {
    if (references.faceIds.length === 0) return;
    await (await this.index(this.referenceModel)).remove(references.faceIds);
  }

  /** The store writes first, so the index can only lack faces (a crash before the upsert): re-add them. */
  async reconcile(storeFaces: readonly ReferenceFace[]): Promise<{ added: number; removed: number }> {
    const index = await this.index(this.referenceModel);
    const faces = storeFaces.filter((f) => f.model === this.referenceModel);
    if ((await index.count()) >= faces.length) return { added: 0, removed: 0 };
    await index.upsert(faces.map((f) => ({ id: f.id, vector: f.embedding })));
    return { added: faces.length, removed: 0 };
  }

  async readiness(): Promise<{ ready: boolean; detail: Record<string, unknown> }> {
    const stats = this.options.faces.stats;
    return { ready: stats.workers > 0, detail: { models: stats.workers > 0, pool: { workers: stats.workers, inFlight: stats.inFlight, queued: stats.queued } } };
  }

  close(): Promise<void> {
    return this.options.faces.close();
  }

  private analyse(bytes: Uint8Array, options: BackendOptions, embed: boolean): Promise<AnalyseResult> {
    return this.options.faces.analyse(bytes, { detector: options.detector as AnalyseOptions['detector'], embed });
  }

  private index(model: string): Promise<VectorIndex> {
    return this.options.store.vectorIndex(model, dimensions);
  }

  /**
   * The reference faces within maxDistance of one face, nearest first. The index searches by
   * cosine; `euclidean_l2` is the same order (sqrt(2·cos)), and raw `euclidean` is re-ranked over
   * a wider candidate set with the stored norms.
   */
  private async nearest(index: VectorIndex, embedding: Float32Array, norm: number, options: BackendOptions & { limit: number }): Promise<FaceCandidate[]> {
    const metric = options.metric as FaceConfig['distanceMetric'];
    const cosineCut = metric === 'cosine' ? options.maxDistance : metric === 'euclidean_l2' ? (options.maxDistance * options.maxDistance) / 2 : undefined;
    const hits = await index.search(embedding, options.limit * 8, cosineCut === undefined ? {} : { maxDistance: cosineCut + 1e-6 });
    if (hits.length === 0) return [];
    const faces = await this.options.store.references.facesByIds(hits.map((h) => h.id));
    return faces
      .map((face) => ({ faceId: face.id, distance: distance(metric, { embedding, norm }, face) }))
      .filter((c) => c.distance <= options.maxDistance)
      .sort((a, b) => a.distance - b.distance);
  }
}

const round4 = (v: number): number => Number(v.toFixed(4));

