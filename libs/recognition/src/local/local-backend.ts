import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, metrics, provideGauge, resolveMatchOptions, toAppError, type FaceConfig, type MatchOptions, type QualityGates } from '@facewatch/core';
import type { ReferenceFace, Store, VectorIndex } from '@facewatch/db';
import { defaultMaxDistance, distance, embeddingKey, toFacialArea, type AnalyseOptions, type AnalysedFace, type AnalyseResult, type PoolStats } from '@facewatch/face';
import type {
  BackendOptions,
  DetectedImage,
  EmbeddedImage,
  FaceBackend,
  FaceCandidate,
  IndexOutcome,
  PersonCandidate,
  ReferenceInput,
  SearchedFace,
  SearchedImage,
  SearchOptions,
} from '../backend.js';
import { similarity, topKMean } from '../decision/calibrate.js';
import { failedGates } from '../decision/policy.js';

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
  /** Quality a reference face must have to be enrolled. */
  referenceGates: QualityGates;
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
    this.referenceModel = embeddingKey(options.config.embedder);
    provideGauge(metrics.poolQueued, () => options.faces.stats.queued);
    provideGauge(metrics.poolInFlight, () => options.faces.stats.inFlight);
  }

  resolveOptions(options: MatchOptions | undefined): BackendOptions {
    const resolved = resolveMatchOptions(options, this.options.config);
    return {
      model: resolved.model,
      detector: resolved.detector,
      metric: resolved.metric,
      maxDistance: resolved.maxDistance ?? defaultMaxDistance(resolved.metric),
      explicitThreshold: resolved.maxDistance !== undefined,
    };
  }

  searchIndex(): Promise<VectorIndex> {
    return this.index(this.referenceModel);
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

  async search(bytes: Uint8Array, options: SearchOptions): Promise<SearchedImage> {
    const result = await this.options.faces.analyse(bytes, { detector: options.detector as AnalyseOptions['detector'], embed: true, evidence: true });
    const { decodeMs, detectMs, alignMs, embedMs } = result.timings;
    for (const [stage, ms] of [
      ['decode', decodeMs],
      ['detect', detectMs],
      ['align', alignMs],
      ['embed', embedMs],
    ] as const)
      metrics.stageSeconds.observe({ stage }, ms / 1000);
    const searchEnd = metrics.stageSeconds.startTimer({ stage: 'search' });
    const index = await this.index(this.referenceModel);
    const faces: SearchedFace[] = [];
    for (const face of result.faces) {
      const { candidates, persons } = await this.nearest(index, face, options);
      faces.push({
        facial_area: toFacialArea(face),
        confidence: round4(face.score),
        candidates,
        persons,
        quality: face.quality,
        embedding: face.embedding!,
        ...(face.evidence ? { evidence: face.evidence } : {}),
      });
    }
    searchEnd();
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
    // a poor reference weakens every comparison with the person: the same gates as alerts, stricter on size
    const gates = failedGates({ detectionScore: face.score, ...face.quality }, this.options.referenceGates);
    if (gates.length > 0) {
      return { indexed: false, code: ErrorCode.FACE_REJECTED, message: `the face is not good enough for a reference: ${gates.map((g) => `${g.message} (${g.gate})`).join('; ')}` };
    }
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
    // the store is the truth: the index gets what it lacks and loses what the store no longer has
    // (equal counts prove nothing: one missing and one stale entry balance out)
    const indexed = new Set(await index.ids());
    const missing = faces.filter((f) => !indexed.has(f.id));
    for (const f of faces) indexed.delete(f.id);
    const stale = [...indexed];
    if (missing.length > 0) await index.upsert(missing.map((f) => ({ id: f.id, vector: f.embedding })));
    if (stale.length > 0) await index.remove(stale);
    return { added: missing.length, removed: stale.length };
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
   * One face against the watch-list. The index gives the nearest reference vectors; the people
   * they belong to are then scored exactly on all their references (a person's score averages
   * their `topK` most similar ones), so someone with many references cannot crowd others out of
   * the ranking. `candidates` keeps the references within maxDistance in the request's metric
   * (the distance rule and naming); cosine order equals euclidean_l2 order, raw `euclidean` is
   * re-ranked with the stored norms.
   */
  private async nearest(index: VectorIndex, face: AnalysedFace, options: SearchOptions): Promise<{ candidates: FaceCandidate[]; persons: PersonCandidate[] }> {
    const metric = options.metric as FaceConfig['distanceMetric'];
    const probe = { embedding: face.embedding!, norm: face.norm! };
    const topK = options.topK ?? 1;
    const wanted = options.limit + 1;
    // widen the search until it holds enough different people (or the whole index): one person
    // with many references close to the face must not crowd the runner-up out
    let k = Math.max(64, options.limit * topK * 4);
    let hits = await index.search(probe.embedding, k);
    let hitFaces = await this.options.store.references.facesByIds(hits.map((h) => h.id));
    while (hits.length === k && new Set(hitFaces.map((f) => f.personId)).size < wanted && k < 65_536) {
      k *= 4;
      hits = await index.search(probe.embedding, k);
      hitFaces = await this.options.store.references.facesByIds(hits.map((h) => h.id));
    }
    if (hits.length === 0) return { candidates: [], persons: [] };
    const candidates = hitFaces
      .map((f) => ({ faceId: f.id, distance: distance(metric, probe, f) }))
      .filter((c) => c.distance <= options.maxDistance)
      .sort((a, b) => a.distance - b.distance);
    // the people of the nearest vectors, nearest first, scored on every reference they have
    const people = [...new Set(hitFaces.map((f) => f.personId))].slice(0, options.limit + 1);
    const byPerson = new Map<string, ReferenceFace[]>();
    for (const f of await this.options.store.references.facesOfPersons(people, this.referenceModel)) {
      let list = byPerson.get(f.personId);
      if (!list) byPerson.set(f.personId, (list = []));
      list.push(f);
    }
    const persons: PersonCandidate[] = [];
    for (const [personId, faces] of byPerson) {
      const similarities = faces.map((f) => similarity(probe.embedding, f.embedding));
      let nearest = faces[0]!;
      let nearestDistance = Infinity;
      for (const f of faces) {
        const d = distance(metric, probe, f);
        if (d < nearestDistance) [nearest, nearestDistance] = [f, d];
      }
      persons.push({ personId, score: round6(topKMean(similarities, topK)), nearest: { faceId: nearest.id, distance: nearestDistance } });
    }
    persons.sort((a, b) => b.score - a.score);
    return { candidates, persons };
  }
}

const round4 = (v: number): number => Number(v.toFixed(4));
const round6 = (v: number): number => Number(v.toFixed(6));
