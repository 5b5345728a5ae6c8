import type { CandidateRecord, FaceRecord, MatchRecord, Store } from '@facewatch/db';
import type { BackendOptions, FaceDecision, SearchedFace } from '@facewatch/recognition';

type Names = Pick<Store, 'persons' | 'references'>;

interface NamedReference {
  personId: string;
  name: string;
  identity: string;
  imageId: string;
  faceId: string;
  box: { x: number; y: number; w: number; h: number };
}

/** Person name and reference path of reference faces (faces or people deleted meanwhile are absent). */
async function nameReferences(store: Names, faceIds: readonly string[]): Promise<Map<string, NamedReference>> {
  const out = new Map<string, NamedReference>();
  for (const face of await store.references.facesByIds(faceIds)) {
    const person = await store.persons.get(face.personId);
    const file = person && (await store.references.listImages(person.id)).find((i) => i.id === face.imageId)?.fileName;
    if (person && file)
      out.set(face.id, { personId: person.id, name: person.name, identity: `blacklist_db/${person.folder}/${file}`, imageId: face.imageId, faceId: face.id, box: face.box });
  }
  return out;
}

function matchRecord(ref: NamedReference, distance: number, threshold: number, source: SearchedFace['facial_area']): MatchRecord {
  return {
    person_id: ref.personId,
    name: ref.name,
    identity: ref.identity,
    distance: round(distance, 6),
    threshold,
    target_x: Math.round(ref.box.x),
    target_y: Math.round(ref.box.y),
    target_w: Math.round(ref.box.w),
    target_h: Math.round(ref.box.h),
    source_x: source.x,
    source_y: source.y,
    source_w: source.w,
    source_h: source.h,
  };
}

/**
 * A searched face and its decision as the API reports it: the decision with its reason, score,
 * confidence and gates; the closest people as `candidates` (named from the store); and in
 * `blacklist_matches` the alert — the matched person, or under a distance rule every person within
 * it, as the server facewatch replaces listed them. Review and unknown faces list no matches.
 */
export async function describeFace(
  store: Names,
  face: SearchedFace,
  decision: FaceDecision,
  context: { faceIndex: number; options: BackendOptions; limit: number },
): Promise<FaceRecord> {
  const { options, limit } = context;
  let candidates: CandidateRecord[];
  let matches: MatchRecord[] = [];
  if (face.persons !== undefined && !options.explicitThreshold) {
    const people = face.persons.slice(0, limit);
    const names = await nameReferences(
      store,
      people.map((p) => p.nearest.faceId),
    );
    candidates = people.flatMap((p) => {
      const ref = names.get(p.nearest.faceId);
      return ref
        ? [
            {
              person_id: p.personId,
              name: ref.name,
              score: p.score,
              distance: round(p.nearest.distance, 6),
              identity: ref.identity,
              reference_image_id: ref.imageId,
              reference_face_id: ref.faceId,
            },
          ]
        : [];
    });
    const best = people[0];
    const ref = best && names.get(best.nearest.faceId);
    if (decision.decision === 'match' && best && ref && decision.thresholds) {
      matches = [matchRecord(ref, best.nearest.distance, matchThresholdAsDistance(decision.thresholds.match, options.metric), face.facial_area)];
    }
  } else {
    // one entry per person (their closest reference), best first
    const names = await nameReferences(
      store,
      face.candidates.map((c) => c.faceId),
    );
    const seen = new Set<string>();
    const nearest: { ref: NamedReference; distance: number }[] = [];
    for (const c of [...face.candidates].sort((a, b) => a.distance - b.distance)) {
      const ref = names.get(c.faceId);
      if (!ref || seen.has(ref.personId)) continue;
      seen.add(ref.personId);
      nearest.push({ ref, distance: c.distance });
    }
    const top = nearest.slice(0, limit);
    candidates = top.map(({ ref, distance }) => ({
      person_id: ref.personId,
      name: ref.name,
      score: null,
      distance: round(distance, 6),
      identity: ref.identity,
      reference_image_id: ref.imageId,
      reference_face_id: ref.faceId,
    }));
    if (decision.decision === 'match') matches = top.map(({ ref, distance }) => matchRecord(ref, distance, options.maxDistance, face.facial_area));
  }
  const q = face.quality;
  return {
    face_index: context.faceIndex,
    facial_area: face.facial_area,
    confidence: face.confidence,
    decision: decision.decision,
    blacklist_matches: matches,
    decision_reason: decision.reason,
    decision_detail: decision.detail,
    score: decision.score,
    match_confidence: decision.confidence,
    thresholds: decision.thresholds,
    gates_failed: decision.gates.map((g) => ({ gate: g.gate, value: round(g.value, 4), limit: g.limit })),
    quality: q
      ? {
          eye_distance_px: round(q.eyeDistancePx, 1),
          sharpness: q.sharpness === undefined ? null : round(q.sharpness, 4),
          yaw_deg: round(q.yawDeg, 1),
          pitch_deg: round(q.pitchDeg, 1),
          edge_cut: round(q.edgeCut, 3),
        }
      : null,
    candidates,
  };
}

/**
 * The match threshold on the score (a mean cosine similarity) as a distance in the result's metric,
 * for the legacy `threshold` field: cosine 1 − s, unit-vector euclidean sqrt(2(1 − s)); raw
 * `euclidean` has no exact equivalent and gets the unit-vector one.
 */
function matchThresholdAsDistance(score: number, metric: string): number {
  const cosine = 1 - score;
  return round(metric === 'cosine' ? cosine : Math.sqrt(2 * cosine), 4);
}

function round(v: number, digits: number): number {
  return Number(v.toFixed(digits));
}
