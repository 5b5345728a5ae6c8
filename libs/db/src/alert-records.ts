import { createHash } from 'node:crypto';
import type { AlertRecord, DeliveryRecord, FaceRecord, NewAlert, ProcessedImage, ReviewStatus, WebhookFilters, WebhookRecord } from './types.js';

// Row shapes and mapping shared by the SQLite and PostgreSQL alert, webhook and outbox
// repositories, so the two stores cannot drift apart in what they return.

export interface AlertRow {
  seq: number | string;
  id: string;
  image_id: string;
  face_index: number;
  decision: AlertRecord['decision'];
  person_id: string;
  name: string;
  score: number | null;
  match_confidence: number | null;
  distance: number;
  threshold: number | null;
  decision_reason: string | null;
  decision_detail: string | null;
  identity: string;
  reference_image_id: string | null;
  reference_face_id: string | null;
  /** JSON text in SQLite, parsed by PostgreSQL's json. */
  facial_area: string | AlertRecord['facial_area'];
  identifier: string;
  processed_at: string;
  review_status: ReviewStatus;
  review_note: string | null;
  reviewed_at: string | null;
  reviewed_by: string | null;
}

export const alertColumns = `a.seq, a.id, a.image_id, a.face_index, a.decision, a.person_id, a.name, a.score, a.match_confidence, a.distance, a.threshold,
  a.decision_reason, a.decision_detail, a.identity, a.reference_image_id, a.reference_face_id, a.facial_area, a.identifier,
  a.processed_at_text AS processed_at, a.review_status, a.review_note, a.reviewed_at, a.reviewed_by`;

export function toAlert(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    seq: Number(row.seq),
    image_id: row.image_id,
    face_index: row.face_index,
    decision: row.decision,
    person_id: row.person_id,
    name: row.name,
    score: row.score,
    match_confidence: row.match_confidence,
    distance: row.distance,
    threshold: row.threshold,
    decision_reason: row.decision_reason,
    decision_detail: row.decision_detail,
    identity: row.identity,
    reference_image_id: row.reference_image_id,
    reference_face_id: row.reference_face_id,
    facial_area: typeof row.facial_area === 'string' ? (JSON.parse(row.facial_area) as AlertRecord['facial_area']) : row.facial_area,
    identifier: row.identifier,
    processed_at: row.processed_at,
    review_status: row.review_status,
    review_note: row.review_note,
    reviewed_at: row.reviewed_at,
    reviewed_by: row.reviewed_by,
  };
}

/** The alert's values in the insert's column order (after seq, before the review columns). */
export function alertValues(a: NewAlert, processedAt: number | Date, embedding: Uint8Array | null): unknown[] {
  return [
    a.id,
    a.image_id,
    a.face_index,
    a.decision,
    a.person_id,
    a.name,
    a.score,
    a.match_confidence,
    a.distance,
    a.threshold,
    a.decision_reason,
    a.decision_detail,
    a.identity,
    a.reference_image_id,
    a.reference_face_id,
    JSON.stringify(a.facial_area),
    a.identifier,
    processedAt,
    a.processed_at,
    a.model,
    embedding,
  ];
}

export const alertInsertColumns = `id, image_id, face_index, decision, person_id, name, score, match_confidence, distance, threshold, decision_reason,
  decision_detail, identity, reference_image_id, reference_face_id, facial_area, identifier, processed_at, processed_at_text, model, embedding`;

/** On a redelivered or re-scored result: everything but the seq and the review is updated. */
export const alertUpsertSet = `image_id = excluded.image_id, face_index = excluded.face_index, decision = excluded.decision,
  person_id = excluded.person_id, name = excluded.name, score = excluded.score, match_confidence = excluded.match_confidence,
  distance = excluded.distance, threshold = excluded.threshold, decision_reason = excluded.decision_reason, decision_detail = excluded.decision_detail,
  identity = excluded.identity, reference_image_id = excluded.reference_image_id, reference_face_id = excluded.reference_face_id,
  facial_area = excluded.facial_area, identifier = excluded.identifier, processed_at = excluded.processed_at,
  processed_at_text = excluded.processed_at_text, model = excluded.model, embedding = coalesce(excluded.embedding, alerts.embedding)`;

/** Does a webhook take this alert? */
export function webhookTakes(filters: WebhookFilters, alert: Pick<NewAlert, 'decision' | 'person_id'>): boolean {
  return (filters.decisions.length === 0 || filters.decisions.includes(alert.decision)) && (filters.person_ids.length === 0 || filters.person_ids.includes(alert.person_id));
}

/** Deterministic, so the unique (webhook, alert) pair and the id agree. */
export const deliveryId = (webhookId: string, alertId: string): string => createHash('sha256').update(`${webhookId}|${alertId}`).digest('hex').slice(0, 32);

export interface WebhookRow {
  id: string;
  url: string;
  secret: string;
  description: string | null;
  filters: string | WebhookFilters;
  enabled: number | boolean;
  created_at: string;
  updated_at: string;
}

export const webhookColumns = 'id, url, secret, description, filters, enabled, created_at, updated_at';

export function toWebhook(row: WebhookRow): WebhookRecord {
  return {
    id: row.id,
    url: row.url,
    secret: row.secret,
    description: row.description,
    filters: typeof row.filters === 'string' ? (JSON.parse(row.filters) as WebhookFilters) : row.filters,
    enabled: row.enabled === true || row.enabled === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export interface DeliveryRow {
  id: string;
  webhook_id: string;
  alert_id: string;
  status: DeliveryRecord['status'];
  attempts: number;
  next_attempt_at_ms: number | string;
  last_error: string | null;
  last_status: number | null;
  created_at: string;
  delivered_at: string | null;
}

export const deliveryColumns = 'id, webhook_id, alert_id, status, attempts, next_attempt_at_ms, last_error, last_status, created_at, delivered_at';

export function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    alert_id: row.alert_id,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: new Date(Number(row.next_attempt_at_ms)).toISOString(),
    last_error: row.last_error,
    last_status: row.last_status,
    created_at: row.created_at,
    delivered_at: row.delivered_at,
  };
}

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);

/** Alert id: image + face + model + person, so a redelivery (or a replay) repeats the same id. */
export const alertIdFor = (imageId: string, faceIndex: number, modelName: string, personId: string): string => hash(imageId, String(faceIndex), modelName, personId);

/** The alert (match) or review item a decided face gives, stored with its result; none for unknown faces. */
export function alertForFace(result: ProcessedImage, face: FaceRecord, embedding: Float32Array | null, model: string): NewAlert | undefined {
  if (face.decision === 'unknown') return undefined;
  const match = face.decision === 'match' ? face.blacklist_matches[0] : undefined;
  const candidate = match ? face.candidates.find((c) => c.person_id === match.person_id) : face.candidates[0];
  const personId = match?.person_id ?? candidate?.person_id;
  if (!personId || (!match && !candidate)) return undefined;
  return {
    id: alertIdFor(result.id, face.face_index, result.model_name, personId),
    image_id: result.id,
    face_index: face.face_index,
    decision: face.decision,
    person_id: personId,
    name: match?.name ?? candidate!.name,
    score: face.score,
    match_confidence: face.match_confidence,
    distance: match?.distance ?? candidate!.distance,
    threshold: match?.threshold ?? null,
    decision_reason: face.decision_reason,
    decision_detail: face.decision_detail,
    identity: match?.identity ?? candidate!.identity,
    reference_image_id: candidate?.reference_image_id ?? null,
    reference_face_id: candidate?.reference_face_id ?? null,
    facial_area: { x: face.facial_area.x, y: face.facial_area.y, w: face.facial_area.w, h: face.facial_area.h },
    identifier: result.image_path_or_identifier,
    processed_at: result.processed_at,
    model,
    embedding,
  };
}
