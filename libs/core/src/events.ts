/**
 * Event contracts shared by the services. The embedded profile carries them on the in-process bus;
 * the scale profile on Kafka topics of the same names. Events are past-tense facts.
 */
import type { WireTypes } from './event-schemas.js';

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

/** The events' types are the wire schemas' (libs/core/src/event-schemas.ts), with image bytes as bytes. */
type Wire<T extends keyof WireTypes> = WireTypes[T];

export type ImageSourceKind = Wire<'imageReceived'>['source'];

/** Where the matcher gets the image: the bytes themselves, or a reference it resolves (a path, a URL, or base64 / a data URI as a client sent it). */
export type ImageReference = { kind: 'bytes'; bytes: Uint8Array } | Exclude<Wire<'imageReceived'>['image'], { kind: 'bytes' }>;

export type MatchOptions = NonNullable<Wire<'imageReceived'>['options']>;

export type ImageReceived = Omit<Wire<'imageReceived'>, 'image'> & { image: ImageReference };
export type ImageProcessed = Wire<'imageProcessed'>;
export type FaceMatched = Wire<'faceMatched'>;
export type DeadLetter = Wire<'deadLetter'>;

export interface EventMap {
  [Topic.imageReceived]: ImageReceived;
  [Topic.imageProcessed]: ImageProcessed;
  [Topic.faceMatched]: FaceMatched;
  [Topic.deadLetter]: DeadLetter;
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
