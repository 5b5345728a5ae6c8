import { AppError, ErrorCode } from '@facewatch/core';
import type { ReferenceFace, Store } from '@facewatch/db';
import { calibrate, thresholdsFor, type CalibrationPerson, type DecisionParams, type DecisionPolicy, type FaceBackend } from '@facewatch/recognition';

export interface WatchlistCalibrationArgs {
  targetFmr: number | undefined;
  reviewFmr: number | undefined;
  k: number | undefined;
  margin: number | undefined;
}

/** Thresholds of a parameters set at some watch-list sizes, with the share of genuine scores they alert. */
export function thresholdTable(
  params: DecisionParams,
  sizes: readonly number[],
  genuine?: readonly number[],
): { people: number; match: number; review: number; genuine_alerted: number | null }[] {
  const rates = { match: params.targets.match_false_alert_rate, review: params.targets.review_false_alert_rate };
  return [...new Set(sizes)]
    .sort((a, b) => a - b)
    .map((people) => {
      const t = thresholdsFor(params, people, rates);
      const alerted = genuine && genuine.length > 0 ? genuine.filter((g) => g >= t.match).length / genuine.length : null;
      return { people, match: round(t.match), review: round(t.review), genuine_alerted: alerted === null ? null : round(alerted) };
    });
}

const sizes = [1, 10, 100, 1000, 10000];

/** The decision parameters in use and the thresholds they give for the current watch-list. */
export async function currentDecisionParams(store: Store, policy: DecisionPolicy): Promise<Record<string, unknown>> {
  const people = (await store.persons.list({ offset: 0, limit: 1 })).total;
  const t = policy.thresholds(people);
  return {
    params: policy.params,
    rates: policy.rates,
    min_margin: policy.minMargin,
    gates: policy.gates,
    people,
    thresholds: { match: round(t.match), review: round(t.review) },
    by_size: thresholdTable({ ...policy.params, targets: { match_false_alert_rate: policy.rates.match, review_false_alert_rate: policy.rates.review } }, [...sizes, people]),
  };
}

/**
 * Fits decision parameters from the enrolled watch-list (genuine: each reference against the
 * person's other references; impostor: each reference against the other people, and every face a
 * reviewer rejected against everyone) — the same fit as `facewatch calibrate`. It does not change what the service uses:
 * the parameters come back to be saved as a file for DECISION_PARAMS_FILE.
 */
export async function calibrateWatchlist(store: Store, backend: FaceBackend, policy: DecisionPolicy, args: WatchlistCalibrationArgs): Promise<Record<string, unknown>> {
  if (backend.kind !== 'local') {
    throw new AppError(ErrorCode.UNSUPPORTED_BY_BACKEND, `${backend.kind} keeps no embeddings facewatch can calibrate on; its decisions use AWS_REKOGNITION_FACE_MATCH_THRESHOLD`);
  }
  const faces = await store.references.allFaces(backend.referenceModel);
  const byPerson = new Map<string, ReferenceFace[]>();
  for (const f of faces) {
    let list = byPerson.get(f.personId);
    if (!list) byPerson.set(f.personId, (list = []));
    list.push(f);
  }
  const people: CalibrationPerson[] = [...byPerson].map(([id, list]) => ({ id, embeddings: list.map((f) => f.embedding) }));
  if (people.length < 2) throw new AppError(ErrorCode.INSUFFICIENT_DATA, `calibration needs at least two enrolled people with references; ${people.length} enrolled`);
  // faces reviewers rejected are known strangers
  const strangers = await store.alerts.rejectedEmbeddings(backend.referenceModel);
  const targetFmr = args.targetFmr ?? policy.rates.match;
  let result;
  try {
    result = calibrate({
      model: backend.referenceModel,
      people,
      strangers,
      k: args.k ?? policy.topK,
      targets: { match_false_alert_rate: targetFmr, review_false_alert_rate: Math.max(targetFmr, args.reviewFmr ?? policy.rates.review) },
      minMargin: args.margin ?? policy.minMargin,
      source: `POST /api/v1/calibration (enrolled watch-list, ${strangers.length} rejected alerts as strangers)`,
    });
  } catch (err) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `cannot calibrate: ${(err as Error).message}`, { cause: err });
  }
  return {
    params: result.params,
    check: result.check,
    warnings: result.warnings,
    by_size: thresholdTable(result.params, [...sizes, people.length], result.genuine),
  };
}

const round = (v: number): number => Number(v.toFixed(4));
