import { z } from 'zod';
import { DetectorName, EmbedderName } from '@facewatch/core';

// Request and response shapes of /api/v1, kept as the server facewatch replaces had them.

/**
 * Text of at most `n` characters as JSON Schema counts them (code points: an emoji is one),
 * which is what the published maxLength promises; zod's max() counts UTF-16 units.
 */
export const text = (n: number, base: z.ZodString = z.string(), description?: string) =>
  base.refine((s) => [...s].length <= n, `at most ${n} characters`).meta({ maxLength: n, ...(description ? { description } : {}) });
/**
 * A whole number in a query string or path: digits only (an empty, signed, spaced or hex value is
 * refused, where Number() would read 0, -1 or 16), from `min` to `max`. Documented as an integer.
 */
export function wholeNumber(min: number, max?: number): z.ZodPipe<z.ZodPipe<z.ZodString, z.ZodTransform<number, string>>, z.ZodNumber>;
export function wholeNumber(min: number, max: number | undefined, fallback: number): z.ZodDefault<z.ZodPipe<z.ZodPipe<z.ZodString, z.ZodTransform<number, string>>, z.ZodNumber>>;
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER, fallback?: number) {
  const digits = z
    .string()
    .regex(/^\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
  const meta = { type: 'integer', minimum: min, maximum: max, pattern: undefined };
  return fallback === undefined ? digits.meta(meta) : digits.default(fallback).meta({ ...meta, description: `Default: ${fallback}.` });
}
/** Text with at least one visible character (it is trimmed, and must not end up empty). */
export const visibleText = (n: number, description?: string) => text(n, z.string().regex(/\S/, 'must not be blank'), description).transform((s) => s.trim());

const point = z.tuple([z.number().int(), z.number().int()]);

export const FacialArea = z
  .object({
    x: z.number().int(),
    y: z.number().int(),
    w: z.number().int(),
    h: z.number().int(),
    left_eye: point.describe("The person's left eye (on the image's right), pixels of the original image."),
    right_eye: point,
    nose: point,
    mouth_left: point,
    mouth_right: point,
  })
  .meta({ id: 'FacialArea' });

export const DetectedFace = z.object({ facial_area: FacialArea, confidence: z.number() }).meta({ id: 'DetectedFace' });

export const DetectorBackend = z.enum(DetectorName).describe('yunet (default) or ultraface. With FACE_PROCESSING_BACKEND=aws_rekognition leave it out.');
const ModelName = z.enum(EmbedderName).describe('fr_feature (the only embedding model). With FACE_PROCESSING_BACKEND=aws_rekognition leave it out.');
export const ImageInput = z.string().min(1).describe('A server path inside IMAGE_PATH_ROOTS, an http(s) URL, base64 bytes or a data URI.');

export const DetectRequest = z.object({ image: ImageInput, detector_backend: DetectorBackend.optional() }).meta({ id: 'DetectRequest' });

export const BlacklistMatch = z
  .object({
    person_id: z.string(),
    name: z.string(),
    identity: z.string().describe('blacklist_db/<folder>/<file> of the closest reference image.'),
    distance: z.number(),
    threshold: z.number(),
    target_x: z.number().int(),
    target_y: z.number().int(),
    target_w: z.number().int(),
    target_h: z.number().int(),
    source_x: z.number().int(),
    source_y: z.number().int(),
    source_w: z.number().int(),
    source_h: z.number().int(),
  })
  .meta({ id: 'BlacklistMatch' });

export const Candidate = z
  .object({
    person_id: z.string(),
    name: z.string(),
    score: z.number().nullable().describe("Mean cosine similarity to the person's closest references (the decision's score); null under a distance threshold."),
    distance: z.number().describe("Distance to the person's closest reference, in the result's metric."),
    identity: z.string().describe('blacklist_db/<folder>/<file> of that reference.'),
    reference_image_id: z.string().nullable().optional().describe('That reference image (GET /api/v1/blacklist/{person_id}/images/{id}).'),
    reference_face_id: z.string().nullable().optional(),
  })
  .meta({ id: 'Candidate' });

export const FaceQuality = z
  .object({
    eye_distance_px: z.number().describe('Distance between the eyes, pixels of the original image.'),
    sharpness: z.number().nullable().describe('Detail in the aligned face (normalised Laplacian variance).'),
    yaw_deg: z.number().describe('Estimated head turn.'),
    pitch_deg: z.number().describe('Estimated head tilt.'),
    edge_cut: z.number().describe("Share of the face's core outside the image."),
  })
  .meta({ id: 'FaceQuality' });

export const FaceResult = z
  .object({
    face_index: z.number().int(),
    facial_area: FacialArea,
    confidence: z.number().describe("The detector's confidence that this is a face."),
    decision: z.enum(['match', 'review', 'unknown']).describe('match: an alert; review: a watch-list person is plausible, shown for review, never alerted; unknown.'),
    blacklist_matches: z.array(BlacklistMatch).describe('The alerted person (decision match); under a request threshold, every person within it. Empty for review and unknown.'),
    decision_reason: z
      .string()
      .nullable()
      .describe(
        'The rule that decided: match_threshold, review_band, ambiguous, quality_gate, below_review_threshold, no_candidates, distance_threshold (null: stored before decisions were explained).',
      ),
    decision_detail: z.string().nullable().describe('Why, in one sentence with the numbers.'),
    score: z.number().nullable().describe("The score the rule used: the best person's mean cosine similarity to their closest references."),
    match_confidence: z.number().nullable().describe('1 − the estimated share of strangers that would score this high against someone on the watch-list.'),
    thresholds: z.object({ match: z.number(), review: z.number() }).nullable().describe('Score thresholds applied (they rise with the size of the watch-list).'),
    gates_failed: z
      .array(z.object({ gate: z.string(), value: z.number(), limit: z.number() }))
      .describe('Quality gates the face failed: eye_distance, detection_score, sharpness, yaw, pitch, edge_cut.'),
    quality: FaceQuality.nullable(),
    candidates: z.array(Candidate).describe('The closest watch-list people, best first, whatever the decision.'),
  })
  .meta({ id: 'FaceResult' });

export const ErrorInfo = z.object({ code: z.string(), message: z.string() }).meta({ id: 'ErrorInfo' });

export const ProcessedImage = z
  .object({
    id: z.string(),
    image_path_or_identifier: z.string(),
    sha256: z.string().nullable().describe('SHA-256 of the image bytes (null when they could not be read).'),
    faces: z.array(FaceResult),
    error: ErrorInfo.nullable(),
    source: z.string(),
    matched: z.boolean(),
    stored_image_path: z.string().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    model_name: z.string(),
    detector_backend: z.string(),
    distance_metric: z.string(),
    processed_at: z.string(),
  })
  .meta({ id: 'ProcessedImage' });

export const ProcessRequest = z
  .object({
    images: z.array(ImageInput).min(1),
    detector_backend: DetectorBackend.optional(),
    model_name: ModelName.optional(),
    distance_metric: z.enum(['cosine', 'euclidean', 'euclidean_l2']).optional(),
    threshold: z
      .number()
      .min(0)
      .max(4)
      .optional()
      .describe(
        "Maximum distance for a match: decide by the nearest reference's distance alone, as the replaced server did. Default: the calibrated decision rule (docs/face-thresholds.md).",
      ),
  })
  .meta({ id: 'ProcessRequest' });

export const ProcessedPage = z.object({ total_items: z.number().int(), items: z.array(ProcessedImage) }).meta({ id: 'ProcessedPage' });

const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true');
export const ProcessedQuery = z.object({
  offset: wholeNumber(0, undefined, 0),
  limit: wholeNumber(1, 100, 10),
  matched: booleanString.optional(),
  person_id: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('ISO-8601 time: only results processed at or after it.'),
});

export const PersonRecord = z
  .object({
    id: z.string(),
    name: z.string(),
    reason: z.string().nullable(),
    image_count: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Person' });

export const Rejection = z.object({ filename: z.string(), code: z.string(), message: z.string() }).meta({ id: 'Rejection' });
export const PersonCreated = PersonRecord.extend({ rejected: z.array(Rejection) }).meta({ id: 'PersonCreated' });
export const ImagesAdded = z.object({ person_id: z.string(), added: z.number().int(), rejected: z.array(Rejection), image_count: z.number().int() }).meta({ id: 'ImagesAdded' });
export const PersonPage = z.object({ total_items: z.number().int(), items: z.array(PersonRecord) }).meta({ id: 'PersonPage' });
export const PersonUpdate = z
  .object({ name: visibleText(200).optional(), reason: text(2000).nullable().optional() })
  .strict()
  .meta({ id: 'PersonUpdate' });
export const PageQuery = z.object({
  offset: wholeNumber(0, undefined, 0),
  limit: wholeNumber(1, 1000, 100),
});

export const RepresentRequest = z.object({ img: ImageInput, detector_backend: DetectorBackend.optional() }).meta({ id: 'RepresentRequest' });
export const RepresentResponse = z
  .object({ results: z.array(z.object({ embedding: z.array(z.number()), facial_area: FacialArea, face_confidence: z.number() })) })
  .meta({ id: 'RepresentResponse' });
export const VerifyRequest = z
  .object({
    img1: ImageInput,
    img2: ImageInput,
    distance_metric: z.enum(['cosine', 'euclidean', 'euclidean_l2']).optional(),
    threshold: z.number().min(0).max(4).optional(),
    detector_backend: DetectorBackend.optional(),
  })
  .meta({ id: 'VerifyRequest' });
export const VerifyResponse = z
  .object({
    verified: z.boolean(),
    distance: z.number(),
    threshold: z.number(),
    distance_metric: z.string(),
    model: z.string(),
    detector_backend: z.string(),
  })
  .meta({ id: 'VerifyResponse' });

export const Health = z.object({ status: z.string(), version: z.string() }).meta({ id: 'Health' });
export const Readiness = z
  .object({
    ready: z.boolean(),
    backend: z.enum(['local', 'aws_rekognition']),
    /** The backend can answer: models loaded (local), collection and bucket reachable (AWS). */
    models: z.boolean(),
    store: z.boolean(),
    pool: z.object({ workers: z.number(), inFlight: z.number(), queued: z.number() }).optional().describe('local backend: the inference workers'),
    collection: z.string().optional().describe('aws_rekognition: the collection id'),
    faces: z.number().nullable().optional().describe('aws_rekognition: faces in the collection'),
    error: z.string().optional().describe('aws_rekognition: the error code when not ready'),
  })
  .meta({ id: 'Readiness' });

export const ReviewStatus = z.enum(['pending', 'confirmed', 'rejected']);

export const Alert = z
  .object({
    alert_id: z.string(),
    seq: z.number().int().describe('Increasing; the id of the event on /alerts/stream (Last-Event-ID).'),
    image_id: z.string(),
    face_index: z.number().int(),
    decision: z.enum(['match', 'review']).describe('match: an alert; review: a review-band face (no alert).'),
    person_id: z.string(),
    name: z.string(),
    distance: z.number(),
    threshold: z.number().nullable(),
    score: z.number().nullable(),
    match_confidence: z.number().nullable(),
    decision_reason: z.string().nullable(),
    decision_detail: z.string().nullable(),
    identity: z.string().describe('blacklist_db/<folder>/<file> of the closest reference.'),
    reference_image_id: z.string().nullable(),
    facial_area: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
    identifier: z.string(),
    processed_at: z.string(),
    review: z.object({ status: ReviewStatus, note: z.string().nullable(), reviewed_at: z.string().nullable(), reviewed_by: z.string().nullable() }),
    evidence: z
      .object({
        face: z.string().describe('The aligned face (112×112 JPEG).'),
        context: z.string().describe('The face with its surroundings (JPEG).'),
        image: z.string().describe('The processed image (the stored copy).'),
        reference_image: z.string().nullable().describe('The reference image the face matched.'),
        reference_face: z.string().nullable().describe('The face in that reference image (JPEG).'),
      })
      .describe('URLs (behind the API key when one is set).'),
  })
  .meta({ id: 'Alert' });

export const AlertPage = z.object({ total_items: z.number().int(), items: z.array(Alert) }).meta({ id: 'AlertPage' });

export const AlertQuery = z.object({
  offset: wholeNumber(0, undefined, 0),
  limit: wholeNumber(1, 200, 50),
  person_id: z.string().optional(),
  decision: z.enum(['match', 'review']).optional(),
  review_status: ReviewStatus.optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('ISO-8601 time: only alerts of results processed at or after it.'),
});

export const AlertReview = z
  .object({ status: z.enum(['confirmed', 'rejected']), note: text(2000).nullable().optional() })
  .strict()
  .meta({ id: 'AlertReview' });

const WebhookFiltersSchema = z
  .object({
    decisions: z
      .array(z.enum(['match', 'review']))
      .default(['match'])
      .describe('Which decisions are sent (default: alerts only; [] for all).'),
    person_ids: z.array(z.string()).default([]).describe('Only these people (default []: everyone).'),
  })
  .strict();

/** An http(s) URL; whether its host may be called is checked on the server (URL_NOT_ALLOWED). */
const webhookUrl = (description?: string) => text(2000, z.string().regex(/^\s*https?:\/\/[^\s/?#]+/i, 'must be an http(s) URL with a host'), description);
const webhookSecret = (description?: string) => text(200, z.string().min(16), description);

export const WebhookCreate = z
  .object({
    url: webhookUrl('http(s) URL; private and loopback addresses are refused unless URL_ALLOW_PRIVATE or URL_ALLOWED_HOSTS allow them.'),
    secret: webhookSecret('HMAC key of the signatures; generated (and returned once) when left out.').optional(),
    description: text(500).nullable().optional(),
    filters: WebhookFiltersSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'WebhookCreate' });

export const WebhookUpdate = z
  .object({
    url: webhookUrl().optional(),
    secret: webhookSecret().optional(),
    description: text(500).nullable().optional(),
    filters: WebhookFiltersSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'WebhookUpdate' });

export const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    filters: z.object({ decisions: z.array(z.string()), person_ids: z.array(z.string()) }),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
    secret: z.string().optional().describe('Only in the answer that created it (or changed it).'),
  })
  .meta({ id: 'Webhook' });

export const Delivery = z
  .object({
    id: z.string().describe('Also the X-Facewatch-Delivery header.'),
    webhook_id: z.string(),
    alert_id: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: z.string(),
    last_error: z.string().nullable(),
    last_status: z.number().int().nullable(),
    created_at: z.string(),
    delivered_at: z.string().nullable(),
  })
  .meta({ id: 'Delivery' });

export const DeliveryPage = z.object({ total_items: z.number().int(), items: z.array(Delivery) }).meta({ id: 'DeliveryPage' });
export const DeliveryQuery = z.object({
  offset: wholeNumber(0, undefined, 0),
  limit: wholeNumber(1, 200, 50),
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
});

export const AuditEntrySchema = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    actor: z.string().nullable().describe('The API key name (`default` for API_KEY), `service` (scheduled work), or null when the API is open.'),
    source: z.string().nullable().describe("The client's address, or the process."),
    action: z.string(),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'AuditEntry' });
export const AuditPage = z.object({ total_items: z.number().int(), items: z.array(AuditEntrySchema) }).meta({ id: 'AuditPage' });
export const AuditQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  action: z.string().optional(),
  actor: z.string().optional(),
  target_id: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional(),
});

export const ReplayRequest = z
  .object({
    since: z.iso.datetime({ offset: true }).describe('Results processed at or after it.'),
    until: z.iso.datetime({ offset: true }).optional().describe('And before it (default: now).'),
    threshold: z.number().min(0).max(4).optional().describe("Decide by the nearest reference's distance (as a request's threshold)."),
    match_false_alert_rate: z.number().gt(0).max(0.5).optional(),
    review_false_alert_rate: z.number().gt(0).max(0.9).optional(),
    min_margin: z.number().min(0).max(2).optional(),
    apply: z.boolean().default(false).describe('Store the new decisions and alerts (no webhooks or stream events are sent for them).'),
  })
  .strict()
  .meta({ id: 'ReplayRequest' });

export const ReplayReportSchema = z
  .object({
    results: z.number().int(),
    faces: z.number().int(),
    not_replayable: z.number().int(),
    applied: z.boolean(),
    settings: z.record(z.string(), z.unknown()),
    changed: z.array(
      z.object({
        image_id: z.string(),
        face_index: z.number().int(),
        identifier: z.string(),
        processed_at: z.string(),
        from: z.object({ decision: z.string(), person: z.string().nullable(), reason: z.string().nullable() }),
        to: z.object({ decision: z.string(), person: z.string().nullable(), reason: z.string(), detail: z.string() }),
      }),
    ),
  })
  .meta({ id: 'ReplayReport' });

export const PurgeRequest = z
  .object({
    older_than_days: z.number().gt(0).max(36_500).describe('Results (with crops and image copies) processed longer ago than this.'),
    alerts_older_than_days: z.number().gt(0).max(36_500).optional().describe('Also alerts of results processed longer ago than this.'),
  })
  .strict()
  .meta({ id: 'PurgeRequest' });

const AnnIndexBuild = z
  .object({
    storage: z
      .enum(['vector', 'halfvec'])
      .describe('What the HNSW graph stores of each vector: float32 `vector`, or float16 `halfvec` (half the size; answers re-ranked on the float32 vectors).'),
    m: z.number().int().min(2).max(100).describe("pgvector's m: links per node."),
    ef_construction: z.number().int().min(4).max(1000).describe("pgvector's ef_construction: candidates kept while building (at least 2·m)."),
  })
  .meta({ id: 'VectorIndexBuild' });

export const VectorIndexState = z
  .object({
    model: z.string().describe('The embedding model whose reference faces the index holds.'),
    vectors: z.number().int().describe('Reference faces in the index.'),
    kind: z
      .enum(['exact', 'hnsw', 'none'])
      .describe(
        'exact: the SQLite scan of the embedded profile (every vector compared); hnsw: a pgvector graph; none: no HNSW index (a rebuild was cut short, or the model has too many dimensions), every row scanned.',
      ),
    build: AnnIndexBuild.nullable().describe('How the HNSW index in use is built (null unless kind is hnsw).'),
    configured: AnnIndexBuild.nullable().describe(
      'How a rebuild without options builds it (PGVECTOR_INDEX_STORAGE, PGVECTOR_M, PGVECTOR_EF_CONSTRUCTION); null in the embedded profile.',
    ),
    ef_search: z.number().int().nullable().describe('PGVECTOR_EF_SEARCH: candidates a search keeps (null in the embedded profile).'),
  })
  .meta({ id: 'VectorIndexState' });

export const VectorIndexRebuildRequest = z
  .object({
    storage: z.enum(['vector', 'halfvec']).optional().describe('Default: PGVECTOR_INDEX_STORAGE.'),
    m: z.number().int().min(2).max(100).optional().describe('Default: PGVECTOR_M.'),
    ef_construction: z.number().int().min(4).max(1000).optional().describe('Default: PGVECTOR_EF_CONSTRUCTION; at least 2·m.'),
    maintenance_work_mem: z
      .string()
      .regex(/^\d+\s*(kB|MB|GB|TB)?$/)
      .optional()
      .describe(
        "PostgreSQL's maintenance_work_mem for this build, e.g. 2GB: room for the whole graph (about 1.7 kB a 512-d vector with halfvec, 2.7 kB with vector), or the build slows down sharply once it spills.",
      ),
  })
  .strict()
  .meta({ id: 'VectorIndexRebuildRequest' });

export const ReindexRequest = z
  .object({
    all: z.boolean().default(false).describe('Every reference image, not only those without an embedding of the current model.'),
    started_at: z.iso.datetime({ offset: true }).optional().describe('With all: resume a run that started then (images enrolled since are done).'),
  })
  .strict()
  .meta({ id: 'ReindexRequest' });
