import { z } from 'zod';

// Request and response shapes of /api/v1, kept as the server facewatch replaces had them.

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

export const DetectorBackend = z.string().describe('yunet (default) or ultraface.');
export const ImageInput = z
  .string()
  .min(1)
  .describe('A server path inside IMAGE_PATH_ROOTS, an http(s) URL, base64 bytes or a data URI.');

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

export const FaceResult = z
  .object({
    face_index: z.number().int(),
    facial_area: FacialArea,
    confidence: z.number(),
    decision: z.enum(['match', 'unknown']),
    blacklist_matches: z.array(BlacklistMatch).describe('One entry per matching person, best first.'),
  })
  .meta({ id: 'FaceResult' });

export const ErrorInfo = z.object({ code: z.string(), message: z.string() }).meta({ id: 'ErrorInfo' });

export const ProcessedImage = z
  .object({
    id: z.string(),
    image_path_or_identifier: z.string(),
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
    model_name: z.string().optional().describe('fr_feature (the only embedding model).'),
    distance_metric: z.enum(['cosine', 'euclidean', 'euclidean_l2']).optional(),
    threshold: z.number().min(0).max(4).optional().describe('Maximum distance for a match; default: calibrated per metric.'),
  })
  .meta({ id: 'ProcessRequest' });

export const ProcessedPage = z.object({ total_items: z.number().int(), items: z.array(ProcessedImage) }).meta({ id: 'ProcessedPage' });

const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true');
export const ProcessedQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100).default(10),
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
export const ImagesAdded = z
  .object({ person_id: z.string(), added: z.number().int(), rejected: z.array(Rejection), image_count: z.number().int() })
  .meta({ id: 'ImagesAdded' });
export const PersonPage = z.object({ total_items: z.number().int(), items: z.array(PersonRecord) }).meta({ id: 'PersonPage' });
export const PersonUpdate = z
  .object({ name: z.string().trim().min(1).max(200).optional(), reason: z.string().max(2000).nullable().optional() })
  .strict()
  .meta({ id: 'PersonUpdate' });
export const PageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
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
