import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, loadConfig } from '@facewatch/core';
import { startEmbedded } from '../embedded.js';
import { formatOpenSetReport, runOpenSetEval } from './open-set-eval.js';

// `npm run eval:openset`: the open-set evaluation (open-set-eval.ts) against the embedded profile
// with the shipped settings (the environment's overrides apply: try MATCH_FALSE_ALERT_RATE…),
// in a temporary folder. `--json` prints the whole report as JSON.
const work = mkdtempSync(join(tmpdir(), 'facewatch-eval-openset-'));
const config = loadConfig({
  ...process.env,
  PORT: '0',
  API_KEY: '',
  DATA_DIR: join(work, 'data'),
  BLACKLIST_DB_PATH: join(work, 'blacklist_db'),
  PROCESSED_IMAGES_OUTPUT_DIR: join(work, 'processed'),
  INBOX_DIR: join(work, 'inbox'),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});
const app = await startEmbedded(config, createLogger({ level: config.logLevel }));
try {
  const report = await runOpenSetEval(`http://127.0.0.1:${app.port}`);
  process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(report)}\n` : formatOpenSetReport(report));
} finally {
  await app.close();
  rmSync(work, { recursive: true, force: true });
}
