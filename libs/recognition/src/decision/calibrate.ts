import type { DecisionParams } from './params.js';
import { pairFalseMatchRate, scoreAtPairRate } from './policy.js';

/** Cosine similarity of two unit vectors. */
export function similarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

/** The mean of the k largest similarities (all of them when there are fewer): a person's score. */
export function topKMean(similarities: readonly number[], k: number): number {
  if (similarities.length === 0) return -1;
  const top = [...similarities].sort((a, b) => b - a).slice(0, k);
  return top.reduce((s, v) => s + v, 0) / top.length;
}

export interface CalibrationPerson {
  id: string;
  /** Unit-length embeddings of the person's reference faces. */
  embeddings: readonly Float32Array[];
}

/**
 * Genuine and impostor score samples, scored as the service scores a face (top-k mean):
 * genuine — each reference of a person against the person's other references (leave one out);
 * impostor — each reference against every other person, and each stranger face against every person.
 */
export function scoreSamples(people: readonly CalibrationPerson[], strangers: readonly Float32Array[], k: number): { genuine: number[]; impostor: number[] } {
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (const person of people) {
    for (const [i, probe] of person.embeddings.entries()) {
      const others = person.embeddings.filter((_, j) => j !== i);
      if (others.length > 0)
        genuine.push(
          topKMean(
            others.map((r) => similarity(probe, r)),
            k,
          ),
        );
      for (const other of people) {
        if (other !== person && other.embeddings.length > 0)
          impostor.push(
            topKMean(
              other.embeddings.map((r) => similarity(probe, r)),
              k,
            ),
          );
      }
    }
  }
  for (const probe of strangers) {
    for (const person of people)
      if (person.embeddings.length > 0)
        impostor.push(
          topKMean(
            person.embeddings.map((r) => similarity(probe, r)),
            k,
          ),
        );
  }
  return { genuine, impostor };
}

/** Share of the impostor scores above the tail's start: the upper 10 % are modelled. */
const TAIL_SHARE = 0.1;

/**
 * Fits the impostor tail: above the 90th percentile u, the excesses over u are modelled as
 * exponential with their mean as scale (the maximum-likelihood fit). An exponential tail falls off
 * more slowly than a Gaussian one, so thresholds extrapolated to rates the data cannot show (1 in
 * 10 000 and below) err on the safe side; measured on the development photos the Gaussian fit
 * underestimated the 99.9th percentile (0.330 against 0.372 observed).
 */
export function fitImpostorTail(impostor: readonly number[]): DecisionParams['impostor_tail'] {
  if (impostor.length < 10) throw new Error(`at least 10 impostor scores are needed to fit the tail, got ${impostor.length}`);
  const sorted = [...impostor].sort((a, b) => a - b);
  const threshold = sorted[Math.floor((1 - TAIL_SHARE) * (sorted.length - 1))]!;
  const excess = sorted.filter((s) => s > threshold).map((s) => s - threshold);
  const scale = Math.max(1e-4, excess.reduce((a, b) => a + b, 0) / Math.max(1, excess.length));
  return { threshold: round(threshold, 6), exceedance: round(excess.length / sorted.length, 6), scale: round(scale, 6) };
}

export const rocRates = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6] as const;

/** True-match rate at each false-match rate (per comparison), thresholds from the fitted tail. */
export function rocPoints(tail: DecisionParams['impostor_tail'], genuine: readonly number[]): DecisionParams['roc'] {
  return rocRates.map((rate) => {
    const threshold = scoreAtPairRate({ impostor_tail: tail }, rate);
    const tmr = genuine.length === 0 ? 0 : genuine.filter((g) => g >= threshold).length / genuine.length;
    return { false_match_rate: rate, threshold: round(threshold, 4), true_match_rate: round(tmr, 4) };
  });
}

export interface CalibrationInput {
  /** Reference-embedding key (reference_faces.model) of the embeddings. */
  model: string;
  people: readonly CalibrationPerson[];
  strangers: readonly Float32Array[];
  k: number;
  targets: DecisionParams['targets'];
  minMargin: number;
  /** Where the data came from, for the record (folders, "enrolled watch-list"). */
  source: string;
  now?: Date;
}

export interface Calibration {
  params: DecisionParams;
  genuine: number[];
  impostor: number[];
  /** Problems with the data that make the fit weak (too few samples…). */
  warnings: string[];
  /** Empirical check of the fit: impostor scores above the fitted 1 % and 0.1 % thresholds. */
  check: { rate: number; threshold: number; observed: number }[];
}

/** Fits the decision parameters from people's reference embeddings and stranger faces. */
export function calibrate(input: CalibrationInput): Calibration {
  const { genuine, impostor } = scoreSamples(input.people, input.strangers, input.k);
  const warnings: string[] = [];
  const withPairs = input.people.filter((p) => p.embeddings.length >= 2).length;
  if (input.people.length < 2 && input.strangers.length === 0) throw new Error('calibration needs at least two people, or stranger faces');
  if (impostor.length < 500) warnings.push(`only ${impostor.length} impostor scores: the tail fit is rough; add stranger faces (photos of people who are not on the list)`);
  if (genuine.length < 20) warnings.push(`only ${genuine.length} genuine scores (${withPairs} people with two or more references): the true-match rates are rough`);
  // a stranger who scores like the people themselves is probably one of them (or their photo is in both folders)
  if (genuine.length >= 5 && input.strangers.length > 0) {
    const low = [...genuine].sort((a, b) => a - b)[Math.floor(genuine.length * 0.1)]!;
    const lookalikes = input.strangers.filter((s) =>
      input.people.some(
        (p) =>
          p.embeddings.length > 0 &&
          topKMean(
            p.embeddings.map((r) => similarity(s, r)),
            input.k,
          ) >= low,
      ),
    ).length;
    if (lookalikes > 0)
      warnings.push(`${lookalikes} stranger face(s) score like the people's own references (≥ ${low.toFixed(3)}): are some strangers on the list? They inflate the thresholds`);
  }
  const tail = fitImpostorTail(impostor);
  const check = [1e-2, 1e-3].map((rate) => {
    const threshold = scoreAtPairRate({ impostor_tail: tail }, rate);
    return { rate, threshold: round(threshold, 4), observed: round(impostor.filter((s) => s >= threshold).length / impostor.length, 5) };
  });
  const params: DecisionParams = {
    format: 'facewatch.decision-params/1',
    model: input.model,
    metric: 'cosine',
    score: { kind: 'top_k_mean_similarity', k: input.k },
    impostor_tail: tail,
    targets: input.targets,
    min_margin: input.minMargin,
    roc: rocPoints(tail, genuine),
    fitted: {
      at: (input.now ?? new Date()).toISOString(),
      people: input.people.length,
      reference_faces: input.people.reduce((n, p) => n + p.embeddings.length, 0),
      stranger_faces: input.strangers.length,
      genuine_scores: genuine.length,
      impostor_scores: impostor.length,
      source: input.source,
    },
  };
  return { params, genuine, impostor, warnings, check };
}

export { pairFalseMatchRate };

function round(v: number, digits: number): number {
  return Number(v.toFixed(digits));
}
