import type { Decision, DecisionDetails, FaceRecord, FacialAreaRecord, MatchRecord, ProcessedImage } from './types.js';

// The row shapes both stores read processed images in, and their assembly into the API shape, so
// SQLite and PostgreSQL cannot drift apart in what they return.

export interface ProcessedImageRow {
  id: string;
  identifier: string;
  source: string;
  sha256: string | null;
  stored_image_path: string | null;
  width: number | null;
  height: number | null;
  model_name: string;
  detector_backend: string;
  distance_metric: string;
  /** SQLite stores 0/1, PostgreSQL a boolean. */
  matched: boolean | number;
  error_code: string | null;
  error_message: string | null;
  /** As it was saved. */
  processed_at: string;
}

export interface ProcessedFaceRow {
  image_id: string;
  face_index: number;
  /** JSON text in SQLite, parsed already by PostgreSQL's json type. */
  facial_area: FacialAreaRecord | string;
  confidence: number;
  decision: Decision;
  /** JSON text in SQLite, parsed already by PostgreSQL's jsonb; null for faces stored before version 3. */
  details: DecisionDetails | string | null;
}

/** The decision fields stored as one JSON value beside a face. */
export function decisionDetails(face: FaceRecord): DecisionDetails {
  return {
    decision_reason: face.decision_reason,
    decision_detail: face.decision_detail,
    score: face.score,
    match_confidence: face.match_confidence,
    thresholds: face.thresholds,
    gates_failed: face.gates_failed,
    quality: face.quality,
    candidates: face.candidates,
  };
}

const noDetails: DecisionDetails = {
  decision_reason: null,
  decision_detail: null,
  score: null,
  match_confidence: null,
  thresholds: null,
  gates_failed: [],
  quality: null,
  candidates: [],
};

export type ProcessedMatchRow = { image_id: string; face_index: number } & MatchRecord;

/** The columns of a match, in insert and select order. */
export const matchFields = [
  'person_id',
  'name',
  'identity',
  'distance',
  'threshold',
  'target_x',
  'target_y',
  'target_w',
  'target_h',
  'source_x',
  'source_y',
  'source_w',
  'source_h',
] as const satisfies readonly (keyof MatchRecord)[];

export const matchColumns = matchFields.join(', ');

/** Image rows with their faces (in face_index order) and matches (in rank order) as the API returns them. */
export function assembleProcessed(rows: readonly ProcessedImageRow[], faceRows: readonly ProcessedFaceRow[], matchRows: readonly ProcessedMatchRow[]): ProcessedImage[] {
  const matchesOf = new Map<string, MatchRecord[]>();
  for (const { image_id, face_index, ...match } of matchRows) {
    const key = `${face_index}\u0000${image_id}`;
    let list = matchesOf.get(key);
    if (list === undefined) matchesOf.set(key, (list = []));
    list.push(match);
  }
  const facesOf = new Map<string, FaceRecord[]>();
  for (const f of faceRows) {
    let list = facesOf.get(f.image_id);
    if (list === undefined) facesOf.set(f.image_id, (list = []));
    list.push({
      face_index: f.face_index,
      facial_area: typeof f.facial_area === 'string' ? (JSON.parse(f.facial_area) as FacialAreaRecord) : f.facial_area,
      confidence: f.confidence,
      decision: f.decision,
      blacklist_matches: matchesOf.get(`${f.face_index}\u0000${f.image_id}`) ?? [],
      ...(f.details === null ? noDetails : typeof f.details === 'string' ? (JSON.parse(f.details) as DecisionDetails) : f.details),
    });
  }
  return rows.map((r) => ({
    id: r.id,
    image_path_or_identifier: r.identifier,
    source: r.source,
    sha256: r.sha256,
    stored_image_path: r.stored_image_path,
    width: r.width,
    height: r.height,
    model_name: r.model_name,
    detector_backend: r.detector_backend,
    distance_metric: r.distance_metric,
    faces: facesOf.get(r.id) ?? [],
    matched: r.matched === true || r.matched === 1,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    processed_at: r.processed_at,
  }));
}
