import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AppError, ErrorCode } from '@facewatch/core';

/**
 * Decision parameters: what `facewatch calibrate` fits for one embedding model and writes to a
 * JSON file, and what the service loads (DECISION_PARAMS_FILE; without it, the file shipped with
 * facewatch, fitted on the development photos). docs/face-thresholds.md documents the format.
 *
 * The score of a face for a person is the mean cosine similarity of the face to the person's
 * `score.top_k` most similar reference faces. The impostor tail models how a stranger's score
 * against one person is distributed above its 90th percentile: P(score ≥ s) =
 * exceedance · exp(−(s − threshold) / scale). Thresholds follow from it at run time, for the
 * number of people on the watch-list (see thresholdsFor).
 */
export const DecisionParamsSchema = z
  .object({
    format: z.literal('facewatch.decision-params/1'),
    /** Reference-embedding key the parameters were fitted for (reference_faces.model). */
    model: z.string().min(1),
    metric: z.literal('cosine'),
    score: z.object({ kind: z.literal('top_k_mean_similarity'), k: z.number().int().min(1).max(50) }),
    impostor_tail: z.object({
      threshold: z.number().min(-1).max(1),
      exceedance: z.number().gt(0).max(1),
      scale: z.number().gt(0).max(1),
    }),
    targets: z.object({
      /** Share of stranger faces that may be alerted (searched against the whole watch-list). */
      match_false_alert_rate: z.number().gt(0).lt(1),
      /** Share of stranger faces that may land in review (or be alerted). */
      review_false_alert_rate: z.number().gt(0).lt(1),
    }),
    /** A match needs the best person's score this much above the runner-up's. */
    min_margin: z.number().min(0).max(2),
    /** Per-comparison ROC of the calibration data: true-match rate at each false-match rate. */
    roc: z.array(z.object({ false_match_rate: z.number(), threshold: z.number(), true_match_rate: z.number() })),
    fitted: z.object({
      at: z.string(),
      people: z.number().int(),
      reference_faces: z.number().int(),
      stranger_faces: z.number().int(),
      genuine_scores: z.number().int(),
      impostor_scores: z.number().int(),
      source: z.string(),
    }),
  })
  .strict();

export type DecisionParams = z.infer<typeof DecisionParamsSchema>;

/** The parameters shipped with facewatch for the default embedding pipeline (fitted with `facewatch calibrate`). */
export const shippedParamsFile = fileURLToPath(new URL('../../calibration/fr_feature.json', import.meta.url));

/** Reads and checks a parameters file; CONFIG_INVALID says what is wrong with it. */
export function loadDecisionParams(file: string = shippedParamsFile): DecisionParams {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppError(ErrorCode.CONFIG_INVALID, `decision parameters ${file} could not be read: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  const parsed = DecisionParamsSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new AppError(ErrorCode.CONFIG_INVALID, `decision parameters ${file} are invalid:\n  ${problems.join('\n  ')}`, { details: { file, problems } });
  }
  return parsed.data;
}
