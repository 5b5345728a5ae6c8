import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { AppError, ErrorCode, type DetectorName } from '@facewatch/core';
import { alignFace, alignedFootprint, ALIGNED_SIDE, sourcePerOutput } from './align/align.js';
import {
  cropJpeg,
  decodeInspected,
  decodeRegion,
  inspectForDecode,
  rgbToJpeg,
  resizeRgb,
  workingSize,
  type DecodeLimits,
  type ImageFormat,
  type RgbImage,
  type RgbRegion,
} from './image/decode.js';
import { clipBox, scaleDetection, type Box, type Detection, type DetectOptions, type FiveLandmarks, type Point } from './detect/types.js';
import { decodeYunet, yunetTensorData } from './detect/yunet.js';
import { decodeUltraface, fiveFromSixtyEight, LANDMARK_SIDE, landmarkTensorData, ULTRAFACE_HEIGHT, ULTRAFACE_WIDTH, ultrafaceTensorData } from './detect/ultraface.js';
import { embedderTensorData, l2Normalise } from './embed/embed.js';
import { loadManifest, type ModelName } from './models/manifest.js';
import { createFastestSession, type ChosenSession, type OptimisationLevel } from './models/session.js';
import { measureQuality, type FaceQuality } from './quality/face-quality.js';

export interface PipelineSettings {
  modelsDir: string;
  defaultDetector: DetectorName;
  decode: DecodeLimits;
  /** minScore undefined: the detector's own default ({@link DEFAULT_MIN_SCORE}). */
  detection: { minScore: number | undefined; nmsIou: number; maxSidePx: number };
}

/** Detection score thresholds measured to work for each detector (docs/face-models.md). */
export const DEFAULT_MIN_SCORE: Readonly<Record<DetectorName, number>> = { yunet: 0.6, ultraface: 0.7 };

export interface AnalyseOptions {
  detector?: DetectorName;
  /** Compute an embedding for every face (otherwise detection only). */
  embed: boolean;
  /** Overrides the configured detection score threshold. */
  minScore?: number;
  /** Also return JPEG crops of every embedded face for people to look at (see FaceEvidenceCrops). */
  evidence?: boolean;
}

/** Crops a person can look at: the aligned 112x112 face the embedding saw (in colour), and the face with its surroundings. */
export interface FaceEvidenceCrops {
  /** JPEG, 112x112. */
  aligned: Uint8Array;
  /** JPEG: the face's box widened by half its size on every side, at most 256 px on the long side. */
  context: Uint8Array;
}

export interface AnalysedFace {
  /** Box in original-image pixels (after EXIF rotation). */
  box: Box;
  score: number;
  landmarks: FiveLandmarks;
  /** Size, sharpness (when embedded), pose and edge cut: the inputs of the quality gates. */
  quality: FaceQuality;
  /** Unit-length 512-d embedding, when requested. */
  embedding?: Float32Array;
  /** Length of the raw embedding (for the `euclidean` metric). */
  norm?: number;
  /** With `evidence`: crops for people to look at. */
  evidence?: FaceEvidenceCrops;
}

export interface StageTimings {
  decodeMs: number;
  detectMs: number;
  alignMs: number;
  embedMs: number;
}

export interface AnalyseResult {
  width: number;
  height: number;
  format: ImageFormat;
  detector: DetectorName;
  /** Most confident first. */
  faces: AnalysedFace[];
  timings: StageTimings;
}

/** Per model loaded: the graph optimisation level kept and the probe time of each level tried (ms). */
export type SessionChoices = Partial<Record<ModelName, { level: OptimisationLevel; probeMs: Partial<Record<OptimisationLevel, number>> }>>;

/**
 * A JPEG whose long side is at least this many times the detector's input side is decoded at the
 * detector's size (cheap: sharp shrinks a JPEG on load by 2, 4 or 8, but only when the reduction
 * is at least 3, 5 or 9), and only the faces needing more pixels are decoded again. Below that the
 * detector's size costs a full decode anyway, so the working image is decoded once and the
 * detector's input made from it.
 */
const DETECTION_FIRST_MIN_SHRINK = 3;

/**
 * A face is aligned from the detection image when that image has at least this many pixels per
 * pixel of the 112x112 crop (the warp then averages 2x2 samples, as it does from the working
 * image); smaller faces are aligned from the working-size image.
 */
const MIN_SOURCE_PER_OUTPUT = 2;

/** The image a face is aligned from, and the factor from detection-image pixels to its pixels. */
interface FaceSource {
  image: RgbImage & Partial<Pick<RgbRegion, 'left' | 'top'>>;
  factor: number;
}

/** Context crops are at most this long on their long side. */
const CONTEXT_MAX_SIDE = 256;

/** The evidence crops of one face: `box` in working-image pixels, `aligned` its 112x112 RGB crop. */
async function evidenceCrops(image: RgbImage, box: Box, aligned: Uint8Array): Promise<FaceEvidenceCrops> {
  const margin = Math.max(box.w, box.h) / 2;
  const region = clipBox({ x: box.x - margin, y: box.y - margin, w: box.w + 2 * margin, h: box.h + 2 * margin }, image.width, image.height);
  const [alignedJpeg, context] = await Promise.all([rgbToJpeg({ data: aligned, width: ALIGNED_SIDE, height: ALIGNED_SIDE }), cropJpeg(image, region, CONTEXT_MAX_SIDE)]);
  return { aligned: alignedJpeg, context };
}

/** Which model files a detector needs, besides the embedder. */
export const modelsForDetector: Record<DetectorName, ModelName[]> = {
  yunet: ['yunet_s'],
  ultraface: ['ultraface', 'fr_landmark'],
};

/**
 * The face pipeline of one thread: decode → detect → align → embed. It owns its ONNX sessions
 * (one intra-op thread each). Runs inside an inference worker; the event loop of a service never
 * calls it directly.
 */
export class FacePipeline {
  private readonly sessions = new Map<ModelName, Promise<ChosenSession>>();

  constructor(private readonly settings: PipelineSettings) {}

  /**
   * Loads the sessions a detector (and the embedder) need, so the first request is not slow, one
   * after the other (their optimisation levels are chosen by timing). Returns what was chosen.
   */
  async warmUp(detectors: readonly DetectorName[], embed: boolean): Promise<SessionChoices> {
    const names = new Set<ModelName>(detectors.flatMap((d) => modelsForDetector[d]));
    if (embed) names.add('fr_feature');
    const choices: SessionChoices = {};
    for (const name of names) {
      const { level, probeMs } = await this.chosen(name);
      choices[name] = { level, probeMs };
    }
    return choices;
  }

  async analyse(bytes: Uint8Array, options: AnalyseOptions): Promise<AnalyseResult> {
    const detector = options.detector ?? this.settings.defaultDetector;
    const detect: DetectOptions = {
      minScore: options.minScore ?? this.settings.detection.minScore ?? DEFAULT_MIN_SCORE[detector],
      nmsIou: this.settings.detection.nmsIou,
    };
    const timings: StageTimings = { decodeMs: 0, detectMs: 0, alignMs: 0, embedMs: 0 };

    let t = performance.now();
    const inspected = await inspectForDecode(bytes, this.settings.decode);
    const detectSide = this.settings.detection.maxSidePx;
    // See DETECTION_FIRST_MIN_SHRINK: large JPEGs are decoded at the detector's size, and faces
    // that need more pixels than that image has are decoded again, their region only.
    const detectionFirst =
      detector === 'yunet' &&
      inspected.format === 'jpeg' &&
      Math.max(inspected.width, inspected.height) >= DETECTION_FIRST_MIN_SHRINK * detectSide &&
      this.settings.decode.maxSidePx > detectSide;
    const image = await decodeInspected(inspected, detectionFirst ? detectSide : this.settings.decode.maxSidePx);
    timings.decodeMs = performance.now() - t;

    t = performance.now();
    const detections = detector === 'yunet' ? await this.detectYunet(image, detect) : await this.detectUltraface(image, detect);
    detections.sort((a, b) => b.score - a.score);
    timings.detectMs = performance.now() - t;

    // where each face is aligned from: `image` (d.landmarks are in its pixels), or a region of the
    // working-size image decoded for the faces `image` has too few pixels for
    const sources = detections.map((): FaceSource => ({ image, factor: 1 }));
    if (options.embed && detectionFirst) {
      t = performance.now();
      await this.decodeSmallFaces(inspected, image, detections, sources, options.evidence === true);
      timings.decodeMs += performance.now() - t;
    }

    const faces: AnalysedFace[] = [];
    for (const [i, d] of detections.entries()) {
      const original = scaleDetection(d, image.scale);
      const box = clipBox(original.box, image.originalWidth, image.originalHeight);
      if (!options.embed) {
        faces.push({ box, score: d.score, landmarks: original.landmarks, quality: measureQuality(original.landmarks, image.originalWidth, image.originalHeight) });
        continue;
      }
      const source = sources[i]!;
      const place = (p: Point): Point => [p[0] * source.factor - (source.image.left ?? 0), p[1] * source.factor - (source.image.top ?? 0)];
      t = performance.now();
      const aligned = alignFace(source.image, d.landmarks.map(place) as FiveLandmarks);
      timings.alignMs += performance.now() - t;
      t = performance.now();
      const { embedding, norm } = await this.embed(aligned);
      timings.embedMs += performance.now() - t;
      const quality = measureQuality(original.landmarks, image.originalWidth, image.originalHeight, aligned);
      const face: AnalysedFace = { box, score: d.score, landmarks: original.landmarks, quality, embedding, norm };
      if (options.evidence) {
        const [x, y] = place([d.box.x, d.box.y]);
        face.evidence = await evidenceCrops(source.image, { x, y, w: d.box.w * source.factor, h: d.box.h * source.factor }, aligned);
      }
      faces.push(face);
    }
    return { width: image.originalWidth, height: image.originalHeight, format: image.format, detector, faces, timings };
  }

  /**
   * For a detection-first decode: the faces whose crop from the detection image would have fewer
   * than {@link MIN_SOURCE_PER_OUTPUT} source pixels per output pixel are aligned from the
   * working-size image (DECODE_MAX_SIDE) instead, decoded for the region those faces (and with
   * `evidence`, their context crops) cover, in one decode. Sets their entries of `sources`.
   */
  private async decodeSmallFaces(
    inspected: Awaited<ReturnType<typeof inspectForDecode>>,
    image: RgbImage,
    detections: readonly Detection[],
    sources: FaceSource[],
    evidence: boolean,
  ): Promise<void> {
    const size = workingSize(inspected.width, inspected.height, this.settings.decode.maxSidePx);
    const factor = size.width / image.width;
    if (factor <= 1) return;
    let union: { x1: number; y1: number; x2: number; y2: number } | undefined;
    const small: number[] = [];
    for (const [i, d] of detections.entries()) {
      if (sourcePerOutput(d.landmarks) >= MIN_SOURCE_PER_OUTPUT) continue;
      small.push(i);
      const marks = d.landmarks.map(([x, y]) => [x * factor, y * factor] as Point) as FiveLandmarks;
      const boxes = [alignedFootprint(marks, 2)];
      if (evidence) {
        const margin = Math.max(d.box.w, d.box.h) / 2;
        boxes.push({ x1: (d.box.x - margin) * factor, y1: (d.box.y - margin) * factor, x2: (d.box.x + d.box.w + margin) * factor, y2: (d.box.y + d.box.h + margin) * factor });
      }
      for (const b of boxes) {
        union = union ? { x1: Math.min(union.x1, b.x1), y1: Math.min(union.y1, b.y1), x2: Math.max(union.x2, b.x2), y2: Math.max(union.y2, b.y2) } : b;
      }
    }
    if (!union) return;
    const region = await decodeRegion(inspected, size, { x: union.x1, y: union.y1, w: union.x2 - union.x1, h: union.y2 - union.y1 });
    if (region.width === 0) return;
    for (const i of small) sources[i] = { image: region, factor };
  }

  /** Embeds an already aligned 112x112 RGB face. */
  async embed(aligned: Uint8Array): Promise<{ embedding: Float32Array; norm: number }> {
    const session = await this.session('fr_feature');
    const input = new ort.Tensor('float32', embedderTensorData(aligned), [1, 3, ALIGNED_SIDE, ALIGNED_SIDE]);
    const out = await this.run(session, 'fr_feature', { input });
    return l2Normalise(out['output']!.data as Float32Array);
  }

  private async detectYunet(image: RgbImage, options: DetectOptions): Promise<Detection[]> {
    const session = await this.session('yunet_s');
    const factor = Math.min(1, this.settings.detection.maxSidePx / Math.max(image.width, image.height));
    const small = await resizeRgb(image, Math.max(1, Math.round(image.width * factor)), Math.max(1, Math.round(image.height * factor)));
    const tensor = yunetTensorData(small);
    const input = new ort.Tensor('float32', tensor.data, [1, 3, tensor.height, tensor.width]);
    const out = await this.run(session, 'yunet_s', { input });
    const outputs = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array }]));
    const back = image.width / small.width;
    return decodeYunet(outputs, tensor.width, tensor.height, options).map((d) => scaleDetection(d, back));
  }

  private async detectUltraface(image: RgbImage, options: DetectOptions): Promise<Detection[]> {
    const [detector, landmarker] = await Promise.all([this.session('ultraface'), this.session('fr_landmark')]);
    const small = await resizeRgb(image, ULTRAFACE_WIDTH, ULTRAFACE_HEIGHT);
    const input = new ort.Tensor('float32', ultrafaceTensorData(small), [1, 3, ULTRAFACE_HEIGHT, ULTRAFACE_WIDTH]);
    const out = await this.run(detector, 'ultraface', { input });
    const boxes = decodeUltraface(out['scores']!.data as Float32Array, out['boxes']!.data as Float32Array, image.width, image.height, options);
    const detections: Detection[] = [];
    for (const { box, score } of boxes) {
      const crop = new ort.Tensor('float32', landmarkTensorData(image, box), [1, 1, LANDMARK_SIDE, LANDMARK_SIDE]);
      const marks = await this.run(landmarker, 'fr_landmark', { input: crop });
      detections.push({ box, score, landmarks: fiveFromSixtyEight(marks['output']!.data as Float32Array, box) });
    }
    return detections;
  }

  private async run(session: ort.InferenceSession, model: ModelName, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await session.run(feeds);
    } catch (err) {
      throw new AppError(ErrorCode.INFERENCE_FAILED, `model ${model} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private async session(name: ModelName): Promise<ort.InferenceSession> {
    return (await this.chosen(name)).session;
  }

  private chosen(name: ModelName): Promise<ChosenSession> {
    let session = this.sessions.get(name);
    if (!session) {
      session = this.createSession(name);
      this.sessions.set(name, session);
      session.catch(() => this.sessions.delete(name));
    }
    return session;
  }

  private async createSession(name: ModelName): Promise<ChosenSession> {
    const entry = loadManifest().find((m) => m.name === name)!;
    const path = join(this.settings.modelsDir, entry.file);
    if (!existsSync(path)) {
      throw new AppError(ErrorCode.MODEL_MISSING, `model "${name}" is missing: ${path} does not exist; run \`npm run models:fetch\``, {
        details: { model: name, path },
      });
    }
    try {
      return await createFastestSession(path, name);
    } catch (err) {
      throw new AppError(ErrorCode.MODEL_MISSING, `model "${name}" at ${path} could not be loaded: ${(err as Error).message}; run \`npm run models:fetch\``, {
        cause: err,
        details: { model: name, path },
      });
    }
  }

  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(sessions.map(async (s) => (await s).session.release()));
  }
}
