import { z } from 'zod';
import { AppError, ErrorCode } from './errors.js';
import { Topic, type EventMap, type ImageReceived } from './events.js';

/**
 * The wire form of each event (JSON), as zod schemas: they validate messages on both ends and
 * generate the JSON Schema documents committed in libs/core/schemas/ (and registered with the
 * schema registry when one is configured). Image bytes travel as base64.
 */
const isoTime = z.string().min(1);
const error = z.object({ code: z.string(), message: z.string() }).strict();

const imageReferenceWire = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('bytes'), bytes_base64: z.string() }).strict(),
  z.object({ kind: z.literal('path'), path: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('url'), url: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('base64'), data: z.string().min(1) }).strict(),
]);

export const ImageReceivedWire = z
  .object({
    /** Unique per arrival. */
    event_id: z.string().min(1).max(200),
    source: z.enum(['api', 'inbox', 'kafka']),
    /** What the caller called the image: a path, URL, upload name or inbox file name. */
    identifier: z.string().max(4096),
    /** sha256 of the bytes, when the sender has them. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    image: imageReferenceWire,
    options: z
      .object({
        detector_backend: z.string().optional(),
        model_name: z.string().optional(),
        distance_metric: z.string().optional(),
        threshold: z.number().optional(),
      })
      .strict()
      .optional(),
    received_at: isoTime,
  })
  .strict()
  .meta({ title: 'facewatch image received', description: 'An image to match (topic facewatch.images).' });

export const ImageProcessedWire = z
  .object({
    /** The image received event this answers. */
    event_id: z.string(),
    /** Id of the stored result (GET /api/v1/processed-images/{id}). */
    image_id: z.string(),
    source: z.enum(['api', 'inbox', 'kafka']),
    identifier: z.string(),
    face_count: z.number().int(),
    matched: z.boolean(),
    error: error.nullable(),
    processed_at: isoTime,
  })
  .strict()
  .meta({ title: 'facewatch image processed', description: 'One processed image (topic facewatch.results); the full result is GET /api/v1/processed-images/{image_id}.' });

export const FaceMatchedWire = z
  .object({
    /** Deterministic: image id + face index + model + person, so a redelivery repeats the same alert id. */
    alert_id: z.string(),
    image_id: z.string(),
    face_index: z.number().int(),
    person_id: z.string(),
    name: z.string(),
    distance: z.number(),
    threshold: z.number(),
    identity: z.string(),
    facial_area: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }).strict(),
    identifier: z.string(),
    processed_at: isoTime,
  })
  .strict()
  .meta({ title: 'facewatch face matched', description: 'A face matched a watch-list person: the alert (topic facewatch.matches).' });

export const DeadLetterWire = z
  .object({ error, payload: z.unknown(), topic: z.string(), failed_at: isoTime })
  .strict()
  .meta({ title: 'facewatch dead letter', description: 'A message that could not be processed, with the error and the original payload (topic facewatch.dlq).' });

export const eventSchemas = {
  [Topic.imageReceived]: ImageReceivedWire,
  [Topic.imageProcessed]: ImageProcessedWire,
  [Topic.faceMatched]: FaceMatchedWire,
  [Topic.deadLetter]: DeadLetterWire,
} as const;

/** The wire form of each event, as TypeScript types: events.ts builds the event types from them. */
export interface WireTypes {
  imageReceived: z.output<typeof ImageReceivedWire>;
  imageProcessed: z.output<typeof ImageProcessedWire>;
  faceMatched: z.output<typeof FaceMatchedWire>;
  deadLetter: z.output<typeof DeadLetterWire>;
}

/** The event as JSON-ready data (bytes as base64). */
export function toWire<T extends Topic>(topic: T, event: EventMap[T]): unknown {
  if (topic !== Topic.imageReceived) return event;
  const e = event as ImageReceived;
  if (e.image.kind !== 'bytes') return e;
  return { ...e, image: { kind: 'bytes', bytes_base64: Buffer.from(e.image.bytes).toString('base64') } };
}

/** Validates wire data and rebuilds the event; INVALID_ARGUMENT (non-retryable) when it does not fit. */
export function fromWire<T extends Topic>(topic: T, data: unknown): EventMap[T] {
  const parsed = eventSchemas[topic].safeParse(data);
  if (!parsed.success) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `malformed ${topic} message: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  if (topic !== Topic.imageReceived) return parsed.data as EventMap[T];
  const wire = parsed.data as z.output<typeof ImageReceivedWire>;
  const image = wire.image.kind === 'bytes' ? { kind: 'bytes' as const, bytes: new Uint8Array(Buffer.from(wire.image.bytes_base64, 'base64')) } : wire.image;
  return { ...wire, image } as EventMap[T];
}

/** JSON Schema documents of the events (committed under libs/core/schemas/, registered with the registry). */
export function eventJsonSchemas(): Record<Topic, Record<string, unknown>> {
  const out = {} as Record<Topic, Record<string, unknown>>;
  for (const [topic, schema] of Object.entries(eventSchemas) as [Topic, z.ZodType][]) {
    out[topic] = { $id: `https://facewatch.dev/schemas/${topic}.json`, ...(z.toJSONSchema(schema, { target: 'draft-07', unrepresentable: 'any' }) as Record<string, unknown>) };
  }
  return out;
}
