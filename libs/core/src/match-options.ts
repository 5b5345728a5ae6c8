import { DetectorName, DistanceMetric, EmbedderName, type FaceConfig } from './config.js';
import { AppError, ErrorCode } from './errors.js';
import type { MatchOptions } from './events.js';

export interface ResolvedMatchOptions {
  detector: DetectorName;
  model: EmbedderName;
  metric: DistanceMetric;
  /** Explicit threshold from the request or config; undefined: the metric's calibrated default. */
  maxDistance: number | undefined;
}

/**
 * Validates per-request options (deepface's names) against what this deployment supports, with
 * the configuration's values as defaults. Throws INVALID_ARGUMENT naming what is supported.
 */
export function resolveMatchOptions(options: MatchOptions | undefined, defaults: FaceConfig): ResolvedMatchOptions {
  const pick = <T extends string>(value: string | undefined, allowed: readonly T[], name: string, fallback: T): T => {
    if (value === undefined || value === null || value === '') return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `${name} "${value}" is not supported; use one of: ${allowed.join(', ')}`, {
        details: { field: name, supported: allowed },
      });
    }
    return value as T;
  };
  const threshold = options?.threshold;
  if (threshold !== undefined && threshold !== null && !(typeof threshold === 'number' && threshold >= 0 && threshold <= 4)) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, 'threshold must be a number from 0 to 4', { details: { field: 'threshold' } });
  }
  return {
    detector: pick(options?.detector_backend, DetectorName, 'detector_backend', defaults.detector),
    model: pick(options?.model_name, EmbedderName, 'model_name', defaults.embedder),
    metric: pick(options?.distance_metric, DistanceMetric, 'distance_metric', defaults.distanceMetric),
    maxDistance: threshold ?? defaults.maxDistance,
  };
}
