/** Evaluation helpers and fixture locations for tests, calibration and benchmarks (`@facewatch/face/testing`). */
export * from './fixtures.js';
export * from './evaluation.js';
