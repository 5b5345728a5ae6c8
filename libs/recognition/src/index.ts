export type * from './backend.js';
export { callAws, defaultRetryPolicy, isTransientAwsError, toBackendError, type AwsRetryPolicy } from './aws/aws-calls.js';
export {
  createRekognitionClient,
  RekognitionCollection,
  type RatioBox,
  type RekognitionCollectionOptions,
  type RekognitionFace,
  type RekognitionImage,
  type RekognitionIndexResult,
  type RekognitionLandmarkName,
  type RekognitionListedFace,
  type RekognitionQualityFilter,
  type RekognitionSearchResult,
} from './aws/rekognition-collection.js';
export { S3ReferenceStore, createS3Client, type S3ReferenceStoreOptions } from './aws/s3-reference-store.js';
export { LocalBackend, type FaceAnalyser, type LocalBackendOptions } from './local/local-backend.js';
export {
  RekognitionBackend,
  REKOGNITION_MODEL,
  REKOGNITION_METRIC,
  similarityToDistance,
  distanceToSimilarity,
  cropRegion,
  type RekognitionBackendOptions,
} from './aws/rekognition-backend.js';
export { prepareForRekognition, REKOGNITION_MAX_BYTES, type PreparedImage } from './aws/prepare-image.js';
export { openFaceBackend } from './open-backend.js';
export { DecisionPolicy, openDecisionPolicy } from './decision/decision-policy.js';
export { loadDecisionParams, shippedParamsFile, DecisionParamsSchema, type DecisionParams } from './decision/params.js';
export {
  Decision,
  DecisionReason,
  Gate,
  decideFace,
  decideByDistance,
  failedGates,
  thresholdsFor,
  falseAlertRate,
  pairFalseMatchRate,
  scoreAtPairRate,
  type AlertRates,
  type FaceDecision,
  type FaceEvidence,
  type GateFailure,
  type GateLimits,
  type PersonScore,
  type Thresholds,
} from './decision/policy.js';
export {
  calibrate,
  fitImpostorTail,
  rocPoints,
  rocRates,
  scoreSamples,
  similarity,
  topKMean,
  type Calibration,
  type CalibrationInput,
  type CalibrationPerson,
} from './decision/calibrate.js';
