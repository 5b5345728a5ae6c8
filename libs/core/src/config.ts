import { cpus } from 'node:os';
import { z } from 'zod';
import { AppError, ErrorCode } from './errors.js';
import { resolveFromRoot } from './paths.js';

/**
 * Typed configuration, parsed once at start-up from the environment. Nothing else in the code base
 * reads `process.env`. Every invalid variable is reported in one CONFIG_INVALID error.
 * docs/configuration.md documents each variable.
 */

export const DetectorName = ['yunet', 'ultraface'] as const;
export type DetectorName = (typeof DetectorName)[number];
export const EmbedderName = ['fr_feature'] as const;
export type EmbedderName = (typeof EmbedderName)[number];
export const DistanceMetric = ['cosine', 'euclidean', 'euclidean_l2'] as const;
export type DistanceMetric = (typeof DistanceMetric)[number];
export const LogLevel = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LogLevel)[number];

export interface FaceConfig {
  modelsDir: string;
  /** A local folder holding the model files (same names); used instead of the canonical sources. */
  modelsMirror: string | undefined;
  /** npm registry used for models whose canonical source is an npm package. */
  npmRegistry: string;
  /** Fetch missing models on first use instead of failing with MODEL_MISSING. */
  autoFetchModels: boolean;
  detector: DetectorName;
  embedder: EmbedderName;
  distanceMetric: DistanceMetric;
  /** Overrides the calibrated default threshold of the metric when set. */
  maxDistance: number | undefined;
  decode: { maxBytes: number; maxPixels: number; maxSidePx: number };
  /** minScore undefined: each detector's own default (yunet 0.6, ultraface 0.7). */
  detection: { minScore: number | undefined; nmsIou: number; maxSidePx: number };
  pool: { workers: number; tasksPerWorker: number; maxQueued: number };
}

export interface AppConfig {
  logLevel: LogLevel;
  face: FaceConfig;
}

type Env = Record<string, string | undefined>;

const present = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

function intVar(fallback: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return fallback;
      const n = /^\s*[+-]?\d+\s*$/.test(v) ? Number(v.trim()) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

function numberVar<F extends number | undefined>(fallback: F, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return fallback as number | F;
      const n = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(v) ? Number(v.trim()) : NaN;
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
}

function enumVar<const T extends readonly string[]>(values: T, fallback: T[number]) {
  return z
    .string()
    .optional()
    .transform((v, ctx): T[number] => {
      if (!present(v)) return fallback;
      const s = v.trim();
      if (!values.includes(s)) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got "${v}"` });
        return z.NEVER;
      }
      return s;
    });
}

function boolVar(fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!present(v)) return fallback;
      const s = v.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${v}"` });
      return z.NEVER;
    });
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (present(v) ? v.trim() : undefined));

const defaultWorkers = Math.max(1, Math.min(2, cpus().length));

const envSchema = z.object({
  LOG_LEVEL: enumVar(LogLevel, 'info'),
  MODELS_DIR: optionalString,
  MODELS_MIRROR: optionalString,
  MODELS_AUTO_FETCH: boolVar(true),
  MODELS_NPM_REGISTRY: optionalString,
  // set by npm itself when a command runs through `npm run`: the registry the user configured
  npm_config_registry: optionalString,
  DETECTOR_BACKEND: enumVar(DetectorName, 'yunet'),
  MODEL_NAME: enumVar(EmbedderName, 'fr_feature'),
  DISTANCE_METRIC: enumVar(DistanceMetric, 'cosine'),
  DISTANCE_THRESHOLD: numberVar(undefined, 0, 4),
  MAX_IMAGE_BYTES: intVar(25 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  MAX_IMAGE_PIXELS: intVar(60_000_000, 1024, 1_000_000_000),
  DECODE_MAX_SIDE: intVar(1280, 160, 8192),
  DETECTION_MIN_SCORE: numberVar(undefined, 0.05, 0.99),
  DETECTION_NMS_IOU: numberVar(0.3, 0.05, 0.95),
  DETECTION_MAX_SIDE: intVar(640, 160, 4096),
  FACE_WORKERS: intVar(defaultWorkers, 1, 64),
  FACE_TASKS_PER_WORKER: intVar(2, 1, 16),
  FACE_MAX_QUEUED: intVar(256, 1, 100_000),
});

/** Parses the environment once; throws one AppError(CONFIG_INVALID) listing every bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new AppError(ErrorCode.CONFIG_INVALID, `invalid configuration:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  const e = parsed.data;
  const config: AppConfig = {
    logLevel: e.LOG_LEVEL,
    face: {
      modelsDir: resolveFromRoot(e.MODELS_DIR ?? 'models'),
      modelsMirror: e.MODELS_MIRROR === undefined ? undefined : resolveFromRoot(e.MODELS_MIRROR),
      npmRegistry: e.MODELS_NPM_REGISTRY ?? e.npm_config_registry ?? 'https://registry.npmjs.org/',
      autoFetchModels: e.MODELS_AUTO_FETCH,
      detector: e.DETECTOR_BACKEND,
      embedder: e.MODEL_NAME,
      distanceMetric: e.DISTANCE_METRIC,
      maxDistance: e.DISTANCE_THRESHOLD,
      decode: { maxBytes: e.MAX_IMAGE_BYTES, maxPixels: e.MAX_IMAGE_PIXELS, maxSidePx: e.DECODE_MAX_SIDE },
      detection: { minScore: e.DETECTION_MIN_SCORE, nmsIou: e.DETECTION_NMS_IOU, maxSidePx: e.DETECTION_MAX_SIDE },
      pool: { workers: e.FACE_WORKERS, tasksPerWorker: e.FACE_TASKS_PER_WORKER, maxQueued: e.FACE_MAX_QUEUED },
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
