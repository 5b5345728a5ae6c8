/**
 * Event contracts shared by the services. The embedded profile carries them on the in-process bus;
 * the scale profile on Kafka topics of the same names. Events are past-tense facts.
 */

export const Topic = {
  /** An image arrived and waits to be matched. */
  imageReceived: 'facewatch.images',
  /** An image was processed: every face with its decision (or the error). */
  imageProcessed: 'facewatch.results',
  /** A face matched a watch-list person: the alert. */
  faceMatched: 'facewatch.matches',
  /** Messages that could not be processed, with the error code and the original payload. */
  deadLetter: 'facewatch.dlq',
} as const;
export type Topic = (typeof Topic)[keyof typeof Topic];

export type ImageSourceKind = 'api' | 'inbox' | 'kafka';

/** Where the matcher gets the image: the bytes themselves, or a reference it resolves. */
export type ImageReference =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string }
  /** base64 bytes or a data URI, as a client sent them (decoded by the matcher within its limits). */
  | { kind: 'base64'; data: string };

export interface MatchOptions {
  detector_backend?: string;
  model_name?: string;
  distance_metric?: string;
  threshold?: number;
}

export interface ImageReceived {
  /** Unique per arrival. */
  event_id: string;
  source: ImageSourceKind;
  /** What the caller called the image: a path, URL, upload name or inbox file name. */
  identifier: string;
  /** sha256 of the bytes, when the sender has them. */
  sha256?: string;
  image: ImageReference;
  options?: MatchOptions;
  received_at: string;
}

export interface ImageProcessedFace {
  face_index: number;
  decision: 'match' | 'unknown';
  person_ids: string[];
}

export interface ImageProcessed {
  /** The ImageReceived event this answers. */
  event_id: string;
  /** Id of the stored result (GET /api/v1/processed-images/{id}). */
  image_id: string;
  source: ImageSourceKind;
  identifier: string;
  face_count: number;
  matched: boolean;
  error: { code: string; message: string } | null;
  processed_at: string;
}

export interface FaceMatched {
  /** Deterministic: image id + face index + model + person, so a redelivery repeats the same alert id. */
  alert_id: string;
  image_id: string;
  face_index: number;
  person_id: string;
  name: string;
  distance: number;
  threshold: number;
  identity: string;
  facial_area: { x: number; y: number; w: number; h: number };
  identifier: string;
  processed_at: string;
}

export interface EventMap {
  [Topic.imageReceived]: ImageReceived;
  [Topic.imageProcessed]: ImageProcessed;
  [Topic.faceMatched]: FaceMatched;
  [Topic.deadLetter]: { error: { code: string; message: string }; payload: unknown; topic: string; failed_at: string };
}

export interface Subscription {
  /** Stops taking new events and waits for handlers in progress. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Consumer group: in-process, one handler per group receives each event. */
  group: string;
  /** Handlers of this subscription running at once. */
  concurrency?: number;
  /**
   * A new group starts from the oldest retained event (default, for work) or only takes events
   * published after it joined (false: replies, live alerts).
   */
  fromBeginning?: boolean;
}

/** Publish/subscribe between services: in-process in the embedded profile, Kafka in the scale profile. */
export interface EventBus {
  /** Whether an event whose handler threw is delivered again (Kafka) or dropped (in-process). */
  readonly redelivers?: boolean;
  publish<T extends Topic>(topic: T, key: string, event: EventMap[T]): Promise<void>;
  subscribe<T extends Topic>(topic: T, options: SubscribeOptions, handler: (event: EventMap[T]) => Promise<void>): Promise<Subscription>;
  close(): Promise<void>;
}
