import { alertForFace, type FaceRecord, type MatchRecord, type NewAlert, type ProcessedImage, type Store } from '@facewatch/db';
import { DecisionPolicy, type BackendOptions, type FaceDecision, type SearchedFace } from '@facewatch/recognition';

export interface ReplaySettings {
  /** ISO-8601: results processed at or after it. */
  since: string;
  /** ISO-8601: and before it (default: now). */
  until?: string | undefined;
  /** Decide by the nearest reference's distance (as a request's `threshold`), instead of the calibrated rule. */
  threshold?: number | undefined;
  matchFalseAlertRate?: number | undefined;
  reviewFalseAlertRate?: number | undefined;
  minMargin?: number | undefined;
  /** Store the new decisions (results and alerts); otherwise only report them. */
  apply: boolean;
}

export interface ReplayChange {
  image_id: string;
  face_index: number;
  identifier: string;
  processed_at: string;
  from: { decision: string; person: string | null; reason: string | null };
  to: { decision: string; person: string | null; reason: string; detail: string };
}

export interface ReplayReport {
  results: number;
  faces: number;
  /** Faces whose stored decision carries no scores (failed images, aws_rekognition): left as they are. */
  not_replayable: number;
  changed: ReplayChange[];
  applied: boolean;
  settings: Record<string, unknown>;
}

const page = 200;

/**
 * Re-decides stored results under other settings — a distance threshold, other false-alert rates
 * or margin — from what each face kept: its candidates' scores and distances, its quality and
 * detection score (no image is processed again). Reports every face whose decision changes; with
 * `apply`, stores the new decisions and alerts (no webhook or stream event is sent for them).
 * The thresholds use today's watch-list size.
 */
export async function replayResults(store: Store, policy: DecisionPolicy, settings: ReplaySettings, progress?: (done: number, total: number) => void): Promise<ReplayReport> {
  const replay = new DecisionPolicy(policy.params, policy.gates, {
    matchFalseAlertRate: settings.matchFalseAlertRate ?? policy.rates.match,
    reviewFalseAlertRate: settings.reviewFalseAlertRate ?? policy.rates.review,
    minMargin: settings.minMargin ?? policy.minMargin,
  });
  const people = (await store.persons.list({ offset: 0, limit: 1 })).total;
  const until = settings.until ? Date.parse(settings.until) : Number.POSITIVE_INFINITY;
  const report: ReplayReport = {
    results: 0,
    faces: 0,
    not_replayable: 0,
    changed: [],
    applied: settings.apply,
    settings: { ...settings, people, thresholds: settings.threshold === undefined ? replay.thresholds(people) : null },
  };
  const first = await store.processed.list({ since: settings.since, offset: 0, limit: 1 });
  const total = first.total_items;
  for (let offset = 0; offset < total; offset += page) {
    const { items } = await store.processed.list({ since: settings.since, offset, limit: page });
    for (const result of items) {
      report.results++;
      if (Date.parse(result.processed_at) >= until || result.error) continue;
      let changedHere = false;
      const faces: FaceRecord[] = [];
      for (const face of result.faces) {
        report.faces++;
        if (face.decision_reason === null) {
          report.not_replayable++;
          faces.push(face);
          continue;
        }
        const options: BackendOptions = {
          model: result.model_name,
          detector: result.detector_backend,
          metric: result.distance_metric,
          maxDistance: settings.threshold ?? face.blacklist_matches[0]?.threshold ?? 0,
          explicitThreshold: settings.threshold !== undefined,
        };
        const decision = replay.decide(searchedFace(face), people, options);
        const next = await redecided(store, face, decision, options);
        if (next.decision !== face.decision || next.blacklist_matches[0]?.person_id !== face.blacklist_matches[0]?.person_id) {
          changedHere = true;
          report.changed.push({
            image_id: result.id,
            face_index: face.face_index,
            identifier: result.image_path_or_identifier,
            processed_at: result.processed_at,
            from: { decision: face.decision, person: face.blacklist_matches[0]?.name ?? face.candidates[0]?.name ?? null, reason: face.decision_reason },
            to: { decision: next.decision, person: next.blacklist_matches[0]?.name ?? next.candidates[0]?.name ?? null, reason: decision.reason, detail: decision.detail },
          });
        }
        faces.push(next);
      }
      if (settings.apply && changedHere) {
        const updated: ProcessedImage = { ...result, faces, matched: faces.some((f) => f.decision === 'match') };
        // alerts that stay keep their probe embeddings (the store keeps a stored one over none); new
        // ones have none, as the image is not processed again
        const alerts = faces.flatMap((f): NewAlert[] => {
          const a = alertForFace(updated, f, null, policy.params.model);
          return a ? [a] : [];
        });
        await store.processed.save(updated, { alerts });
      }
    }
    progress?.(Math.min(total, offset + page), total);
  }
  return report;
}

/** What the decision rule needs, rebuilt from a stored face. */
function searchedFace(face: FaceRecord): SearchedFace {
  const candidates = face.candidates.map((c) => ({ faceId: c.reference_face_id ?? `${c.person_id}:${c.identity}`, distance: c.distance })).sort((a, b) => a.distance - b.distance);
  const persons = face.candidates.every((c) => c.score !== null)
    ? face.candidates
        .map((c) => ({ personId: c.person_id, score: c.score!, nearest: { faceId: c.reference_face_id ?? '', distance: c.distance } }))
        .sort((a, b) => b.score - a.score)
    : undefined;
  const q = face.quality;
  return {
    facial_area: face.facial_area,
    confidence: face.confidence,
    candidates,
    ...(persons ? { persons } : {}),
    ...(q ? { quality: { eyeDistancePx: q.eye_distance_px, sharpness: q.sharpness ?? undefined, yawDeg: q.yaw_deg, pitchDeg: q.pitch_deg, edgeCut: q.edge_cut } } : {}),
  };
}

/** The face with its new decision: fields, and the alerted person (with their reference box) for a match. */
async function redecided(store: Store, face: FaceRecord, decision: FaceDecision, options: BackendOptions): Promise<FaceRecord> {
  let matches: MatchRecord[] = [];
  if (decision.decision === 'match') {
    const within = options.explicitThreshold ? face.candidates.filter((c) => c.distance <= options.maxDistance) : face.candidates.filter((c) => c.person_id === decision.personId);
    const refs = new Map((await store.references.facesByIds(within.flatMap((c) => (c.reference_face_id ? [c.reference_face_id] : [])))).map((r) => [r.id, r]));
    matches = within.map((c) => {
      const box = (c.reference_face_id && refs.get(c.reference_face_id)?.box) || { x: 0, y: 0, w: 0, h: 0 };
      return {
        person_id: c.person_id,
        name: c.name,
        identity: c.identity,
        distance: c.distance,
        threshold: options.explicitThreshold ? options.maxDistance : Number((1 - (decision.thresholds?.match ?? 0)).toFixed(4)),
        target_x: Math.round(box.x),
        target_y: Math.round(box.y),
        target_w: Math.round(box.w),
        target_h: Math.round(box.h),
        source_x: face.facial_area.x,
        source_y: face.facial_area.y,
        source_w: face.facial_area.w,
        source_h: face.facial_area.h,
      };
    });
  }
  return {
    ...face,
    decision: decision.decision,
    blacklist_matches: matches,
    decision_reason: decision.reason,
    decision_detail: decision.detail,
    score: decision.score ?? face.score,
    match_confidence: decision.confidence ?? face.match_confidence,
    thresholds: decision.thresholds,
    gates_failed: decision.gates.map((g) => ({ gate: g.gate, value: Number(g.value.toFixed(4)), limit: g.limit })),
  };
}
