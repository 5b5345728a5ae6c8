import { AppError, ErrorCode, type DecisionConfig } from '@facewatch/core';
import type { BackendOptions, FaceBackend, SearchedFace } from '../backend.js';
import { loadDecisionParams, shippedParamsFile, type DecisionParams } from './params.js';
import { decideByDistance, decideFace, failedGates, thresholdsFor, type AlertRates, type FaceDecision, type GateLimits, type Thresholds } from './policy.js';

/**
 * The decision rule of a deployment: the calibrated parameters (with the configuration's
 * overrides) and the quality gates. Built once per process; `decide` is pure.
 */
export class DecisionPolicy {
  readonly rates: AlertRates;
  readonly minMargin: number;

  constructor(
    readonly params: DecisionParams,
    readonly gates: GateLimits,
    overrides: Pick<DecisionConfig, 'matchFalseAlertRate' | 'reviewFalseAlertRate' | 'minMargin'> = {
      matchFalseAlertRate: undefined,
      reviewFalseAlertRate: undefined,
      minMargin: undefined,
    },
  ) {
    const match = overrides.matchFalseAlertRate ?? params.targets.match_false_alert_rate;
    const review = Math.max(match, overrides.reviewFalseAlertRate ?? params.targets.review_false_alert_rate);
    this.rates = { match, review };
    this.minMargin = overrides.minMargin ?? params.min_margin;
  }

  /** How many of a person's closest references their score averages. */
  get topK(): number {
    return this.params.score.k;
  }

  /** The score thresholds for a watch-list of `people`. */
  thresholds(people: number): Thresholds {
    return thresholdsFor(this.params, people, this.rates);
  }

  /**
   * The decision for one searched face on a watch-list of `people`. A request's explicit distance
   * threshold, or a backend that does not score people (Rekognition), decides by the nearest
   * reference's distance; otherwise the calibrated rule decides.
   */
  decide(face: SearchedFace, people: number, options: BackendOptions): FaceDecision {
    const gates = failedGates({ detectionScore: face.confidence, ...face.quality }, this.gates);
    if (options.explicitThreshold || face.persons === undefined) {
      return decideByDistance({ nearestDistance: face.candidates[0]?.distance ?? null, personId: null, maxDistance: options.maxDistance, gates });
    }
    return decideFace({ persons: face.persons, gates, thresholds: this.thresholds(people), params: this.params, minMargin: this.minMargin });
  }
}

/**
 * The policy for a backend: the parameters file of DECISION_PARAMS_FILE, or the one shipped with
 * facewatch; refused (CONFIG_INVALID) when it was fitted for other embeddings than the backend
 * stores. A backend that does not score people (Rekognition) decides by its own threshold and
 * needs no fitted file.
 */
export function openDecisionPolicy(config: DecisionConfig, backend: Pick<FaceBackend, 'kind' | 'referenceModel'>): DecisionPolicy {
  const params = loadDecisionParams(config.paramsFile ?? shippedParamsFile);
  if (backend.kind === 'local' && params.model !== backend.referenceModel) {
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      `decision parameters ${config.paramsFile ?? shippedParamsFile} were fitted for ${params.model} embeddings; this deployment stores ${backend.referenceModel}: run \`npx facewatch calibrate\` and set DECISION_PARAMS_FILE`,
      { details: { fittedFor: params.model, embeddings: backend.referenceModel } },
    );
  }
  return new DecisionPolicy(params, config.gates, config);
}
