import type { DecisionParams } from './params.js';

/**
 * The decision per face: `match` (an alert), `review` (a watch-list person is plausible; shown
 * to a person, never alerted) or `unknown`. Pure functions: the matcher hands in the face's
 * quality and its per-person scores; the thresholds follow from the calibrated impostor tail and
 * the size of the watch-list.
 */

export const Decision = ['match', 'review', 'unknown'] as const;
export type Decision = (typeof Decision)[number];

/** Which rule decided. Stable strings: stored with results and shown on the review page. */
export const DecisionReason = {
  /** Score at or above the match threshold, clear of the runner-up, every gate passed. */
  match: 'match_threshold',
  /** Score between the review and the match threshold. */
  reviewBand: 'review_band',
  /** Match-level score, but the runner-up person is within the margin: which one is unclear. */
  ambiguous: 'ambiguous',
  /** A plausible person, but the face failed a quality gate: never an alert. */
  qualityGate: 'quality_gate',
  /** Best score below the review threshold. */
  belowReview: 'below_review_threshold',
  /** Nobody on the watch-list (for this model). */
  noCandidates: 'no_candidates',
  /** A distance threshold was given (request `threshold` or DISTANCE_THRESHOLD): nearest reference within it. */
  distanceThreshold: 'distance_threshold',
} as const;
export type DecisionReason = (typeof DecisionReason)[keyof typeof DecisionReason];

/** Quality gates: a face outside any of them is never an alert. */
export interface GateLimits {
  /** Eye landmarks at least this far apart (original pixels). */
  minEyeDistancePx: number;
  minDetectionScore: number;
  /** See FaceQuality.sharpness (libs/face). */
  minSharpness: number;
  maxYawDeg: number;
  maxPitchDeg: number;
  /** Largest share of the face's core outside the image. */
  maxEdgeCut: number;
}

export const Gate = ['eye_distance', 'detection_score', 'sharpness', 'yaw', 'pitch', 'edge_cut'] as const;
export type Gate = (typeof Gate)[number];

/** What the gates look at; absent measurements (a backend that has none) pass. */
export interface FaceEvidence {
  detectionScore: number;
  eyeDistancePx?: number | undefined;
  sharpness?: number | undefined;
  yawDeg?: number | undefined;
  pitchDeg?: number | undefined;
  edgeCut?: number | undefined;
}

export interface GateFailure {
  gate: Gate;
  value: number;
  limit: number;
  /** e.g. "eye distance 14.2 px < 16 px". */
  message: string;
}

/** Every gate the face fails, in {@link Gate} order. */
export function failedGates(face: FaceEvidence, limits: GateLimits): GateFailure[] {
  const out: GateFailure[] = [];
  const low = (gate: Gate, value: number | undefined, limit: number, what: string, unit = ''): void => {
    if (value !== undefined && value < limit) out.push({ gate, value, limit, message: `${what} ${round(value)}${unit} < ${round(limit)}${unit}` });
  };
  const high = (gate: Gate, value: number | undefined, limit: number, what: string, unit = ''): void => {
    if (value !== undefined && value > limit) out.push({ gate, value, limit, message: `${what} ${round(value)}${unit} > ${round(limit)}${unit}` });
  };
  low('eye_distance', face.eyeDistancePx, limits.minEyeDistancePx, 'eye distance', ' px');
  low('detection_score', face.detectionScore, limits.minDetectionScore, 'detection score');
  low('sharpness', face.sharpness, limits.minSharpness, 'sharpness');
  high('yaw', face.yawDeg === undefined ? undefined : Math.abs(face.yawDeg), limits.maxYawDeg, 'head turned', '°');
  high('pitch', face.pitchDeg === undefined ? undefined : Math.abs(face.pitchDeg), limits.maxPitchDeg, 'head tilted', '°');
  high('edge_cut', face.edgeCut, limits.maxEdgeCut, 'share of the face outside the image');
  return out;
}

/** The false-alert rates the thresholds are set for; the parameters file's targets unless overridden. */
export interface AlertRates {
  match: number;
  review: number;
}

export interface Thresholds {
  /** Score a match needs. */
  match: number;
  /** Score a review needs. */
  review: number;
  /** People on the watch-list the thresholds were derived for. */
  people: number;
  rates: AlertRates;
}

/** P(a stranger's score against one person ≥ score), from the fitted exponential tail (capped at 1). */
export function pairFalseMatchRate(params: Pick<DecisionParams, 'impostor_tail'>, score: number): number {
  const { threshold, exceedance, scale } = params.impostor_tail;
  return Math.min(1, exceedance * Math.exp(-(score - threshold) / scale));
}

/** The score a stranger exceeds against one person with probability `rate` (inverse of pairFalseMatchRate). */
export function scoreAtPairRate(params: Pick<DecisionParams, 'impostor_tail'>, rate: number): number {
  const { threshold, exceedance, scale } = params.impostor_tail;
  return threshold + scale * Math.log(exceedance / rate);
}

/**
 * Thresholds for a watch-list of `people`: a stranger's face is compared with every person, so
 * the share of strangers alerted is about people × (per-person rate). Each target rate is divided
 * among the people — the thresholds rise as the list grows, keeping the false-alert rate stated.
 */
export function thresholdsFor(params: Pick<DecisionParams, 'impostor_tail'>, people: number, rates: AlertRates): Thresholds {
  const n = Math.max(1, people);
  const match = scoreAtPairRate(params, rates.match / n);
  const review = Math.min(match, scoreAtPairRate(params, rates.review / n));
  return { match, review, people: n, rates };
}

/** Estimated share of strangers scoring at least `score` against someone on a list of `people`. */
export function falseAlertRate(params: Pick<DecisionParams, 'impostor_tail'>, score: number, people: number): number {
  return Math.min(1, Math.max(1, people) * pairFalseMatchRate(params, score));
}

export interface PersonScore {
  personId: string;
  /** Mean cosine similarity to the person's k most similar references. */
  score: number;
}

export interface FaceDecision {
  decision: Decision;
  reason: DecisionReason;
  /** One sentence saying why, with the numbers. */
  detail: string;
  /** The person the rule was about: the best-scoring one (null: nobody). */
  personId: string | null;
  /** The score the rule used (best person's), null without candidates. */
  score: number | null;
  /**
   * 1 − the estimated share of strangers that would score this high against someone on the list:
   * how sure it is that this is not a stranger. Null without candidates.
   */
  confidence: number | null;
  thresholds: { match: number; review: number } | null;
  gates: GateFailure[];
}

/**
 * The calibrated rule. `persons` are the face's per-person scores, best first.
 * 1. no candidates → unknown; best below the review threshold → unknown;
 * 2. a plausible person but a failed quality gate → review (never an alert);
 * 3. at or above the match threshold and at least `minMargin` above the runner-up → match;
 *    a runner-up within the margin → review (ambiguous);
 * 4. otherwise (review band) → review.
 */
export function decideFace(input: {
  persons: readonly PersonScore[];
  gates: readonly GateFailure[];
  thresholds: Thresholds;
  params: Pick<DecisionParams, 'impostor_tail'>;
  minMargin: number;
}): FaceDecision {
  const { persons, gates, thresholds, params, minMargin } = input;
  const best = persons[0];
  const t = { match: round(thresholds.match), review: round(thresholds.review) };
  if (!best)
    return {
      decision: 'unknown',
      reason: DecisionReason.noCandidates,
      detail: 'nobody on the watch-list to compare with',
      personId: null,
      score: null,
      confidence: null,
      thresholds: t,
      gates: [...gates],
    };
  const score = best.score;
  const confidence = round(1 - falseAlertRate(params, score, thresholds.people), 6);
  const common = { personId: best.personId, score: round(score), confidence, thresholds: t, gates: [...gates] };
  const s = round(score);
  if (score < thresholds.review) {
    return { ...common, decision: 'unknown', reason: DecisionReason.belowReview, detail: `score ${s} < review threshold ${t.review}` };
  }
  if (gates.length > 0) {
    return {
      ...common,
      decision: 'review',
      reason: DecisionReason.qualityGate,
      detail: `score ${s} ≥ review threshold ${t.review}, but ${gates.map((g) => g.message).join('; ')}`,
    };
  }
  if (score >= thresholds.match) {
    const second = persons[1];
    if (second && score - second.score < minMargin) {
      return {
        ...common,
        decision: 'review',
        reason: DecisionReason.ambiguous,
        detail: `score ${s} ≥ match threshold ${t.match}, but the runner-up scores ${round(second.score)} (margin ${round(score - second.score)} < ${minMargin})`,
      };
    }
    return { ...common, decision: 'match', reason: DecisionReason.match, detail: `score ${s} ≥ match threshold ${t.match}${second ? `; runner-up ${round(second.score)}` : ''}` };
  }
  return { ...common, decision: 'review', reason: DecisionReason.reviewBand, detail: `score ${s} between review threshold ${t.review} and match threshold ${t.match}` };
}

/**
 * The rule of the server facewatch replaces, kept for requests that give a distance `threshold`
 * (and DISTANCE_THRESHOLD): match when the nearest reference is within it; a failed quality gate
 * still makes it a review, never an alert.
 */
export function decideByDistance(input: { nearestDistance: number | null; personId: string | null; maxDistance: number; gates: readonly GateFailure[] }): FaceDecision {
  const { nearestDistance, personId, maxDistance, gates } = input;
  const common = { personId, score: null, confidence: null, thresholds: null, gates: [...gates] };
  if (nearestDistance === null || nearestDistance > maxDistance) {
    return {
      ...common,
      personId: null,
      decision: 'unknown',
      reason: DecisionReason.distanceThreshold,
      detail: nearestDistance === null ? `no reference within distance ${maxDistance}` : `nearest reference at distance ${round(nearestDistance)} > ${maxDistance}`,
    };
  }
  const detail = `nearest reference at distance ${round(nearestDistance)} ≤ ${maxDistance}`;
  if (gates.length > 0) return { ...common, decision: 'review', reason: DecisionReason.qualityGate, detail: `${detail}, but ${gates.map((g) => g.message).join('; ')}` };
  return { ...common, decision: 'match', reason: DecisionReason.distanceThreshold, detail };
}

function round(v: number, digits = 4): number {
  return Number(v.toFixed(digits));
}
