export {
  decodeImage,
  cropJpeg,
  rgbToJpeg,
  inspectImage,
  classifySharpError,
  SupportedFormats,
  type ImageHeader,
  type DecodeLimits,
  type DecodedImage,
  type ImageFormat,
  type RgbImage,
} from './image/decode.js';
export type { Box, Detection, FiveLandmarks, Point } from './detect/types.js';
export { alignFace, estimateSimilarity, ARCFACE_TEMPLATE, ALIGNED_SIDE } from './align/align.js';
export { distance, cosineDistance, defaultMaxDistance, DEFAULT_MAX_DISTANCE, type EmbeddingVector } from './embed/distance.js';
export { embeddingKey } from './embed/embed.js';
export {
  FacePipeline,
  modelsForDetector,
  DEFAULT_MIN_SCORE,
  type AnalyseOptions,
  type AnalyseResult,
  type AnalysedFace,
  type FaceEvidenceCrops,
  type PipelineSettings,
  type StageTimings,
} from './pipeline.js';
export { FacePool, type FacePoolOptions, type PoolStats } from './pool/face-pool.js';
export { startFacePool, pipelineSettings, requiredModels } from './face-service.js';
export { ensureModels, isModelPresent, extractFromTarGz, type FetchOptions } from './models/fetch-models.js';
export { loadManifest, modelEntry, describeSource, type ModelEntry, type ModelName, type ModelSource } from './models/manifest.js';
export { toFacialArea, type FacialArea } from './facial-area.js';
export { measureQuality, estimatePose, edgeCut, eyeDistance, sharpness, type FaceQuality } from './quality/face-quality.js';
