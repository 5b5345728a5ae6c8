import { loadConfig, type FaceConfig } from '@facewatch/core';
import { startFacePool, type FacePool } from '@facewatch/face';

/** The configuration the tests run with: the environment (MODELS_MIRROR from the test runner) plus overrides. */
export function testConfig(overrides: Record<string, string> = {}): FaceConfig {
  return loadConfig({ ...process.env, ...overrides }).face;
}

export function startTestPool(overrides: Record<string, string> = {}): Promise<FacePool> {
  return startFacePool(testConfig(overrides));
}
