import { Topic, type EventBus, type Logger, type Subscription } from '@facewatch/core';
import type { Store } from '@facewatch/db';
import type { DecisionPolicy, FaceBackend } from '@facewatch/recognition';
import { matchImage } from './match-image.js';
import type { ImageCopyStore, ImageResolver } from './ports.js';

export interface MatcherOptions {
  bus: EventBus;
  backend: FaceBackend;
  policy: DecisionPolicy;
  store: Store;
  copies: ImageCopyStore;
  resolve: ImageResolver;
  log: Logger;
  /** Images matched at once (keep the inference pool, or the AWS calls, busy; no more). */
  concurrency: number;
}

/** The matcher service: consumes `image received` events and matches them. */
export async function startMatcher(options: MatcherOptions): Promise<Subscription> {
  const log = options.log.child({ component: 'matcher' });
  return options.bus.subscribe(Topic.imageReceived, { group: 'matcher', concurrency: options.concurrency }, async (event) => {
    try {
      await matchImage({ ...options, log }, event);
    } catch (err) {
      // a retryable failure (database, broker, shutdown): Kafka redelivers the event, so let it;
      // the in-process bus does not, so report it as this image's result rather than leave its
      // sender waiting
      if (options.bus.redelivers) throw err;
      log.error({ err, eventId: event.event_id }, 'matching failed');
      await options.bus.publish(Topic.imageProcessed, event.event_id, {
        event_id: event.event_id,
        image_id: '',
        source: event.source,
        identifier: event.identifier,
        face_count: 0,
        matched: false,
        error: { code: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message },
        processed_at: new Date().toISOString(),
      });
    }
  });
}
