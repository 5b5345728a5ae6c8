import type { AlertRecord } from '@facewatch/db';

/** Where the crops and images of an alert are served (stable URLs under /api/v1, behind the API key). */
export function evidenceUrls(a: Pick<AlertRecord, 'image_id' | 'face_index' | 'person_id' | 'reference_image_id'>): Record<string, string | null> {
  const image = `/api/v1/processed-images/${encodeURIComponent(a.image_id)}`;
  const reference = a.reference_image_id ? `/api/v1/blacklist/${encodeURIComponent(a.person_id)}/images/${encodeURIComponent(a.reference_image_id)}` : null;
  return {
    face: `${image}/faces/${a.face_index}/aligned.jpg`,
    context: `${image}/faces/${a.face_index}/context.jpg`,
    image: `${image}/image`,
    reference_image: reference,
    reference_face: reference && `${reference}/face.jpg`,
  };
}

/**
 * An alert as the API, the event stream and webhooks show it: the face.matched event's fields
 * (alert_id, image_id, face_index, person_id, name, distance, threshold, identity, facial_area,
 * identifier, processed_at) plus the decision, its score and reason, the review, and evidence URLs.
 */
export function alertJson(a: AlertRecord): Record<string, unknown> {
  return {
    alert_id: a.id,
    seq: a.seq,
    image_id: a.image_id,
    face_index: a.face_index,
    decision: a.decision,
    person_id: a.person_id,
    name: a.name,
    distance: a.distance,
    threshold: a.threshold,
    score: a.score,
    match_confidence: a.match_confidence,
    decision_reason: a.decision_reason,
    decision_detail: a.decision_detail,
    identity: a.identity,
    reference_image_id: a.reference_image_id,
    facial_area: a.facial_area,
    identifier: a.identifier,
    processed_at: a.processed_at,
    review: { status: a.review_status, note: a.review_note, reviewed_at: a.reviewed_at, reviewed_by: a.reviewed_by },
    evidence: evidenceUrls(a),
  };
}
