import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, Topic, type EventBus, type ImageProcessed, type Subscription } from '@facewatch/core';

/**
 * Request/reply over the bus: the API publishes `image received` and waits for the
 * `image processed` event with the same event id. One subscription serves all requests.
 */
export class ReplyWaiter {
  private readonly waiting = new Map<string, (event: ImageProcessed) => void>();
  private readonly listeners: ((event: ImageProcessed) => Promise<void>)[] = [];
  private subscription: Subscription | undefined;

  /**
   * Every API process needs its own group: with Kafka, a shared group would split the replies
   * between processes. Give a stable one (per host and port): a random one per start would leave a
   * group behind on the broker at every restart.
   */
  constructor(
    private readonly bus: EventBus,
    private readonly group = `api-replies-${randomUUID()}`,
  ) {}

  /** Also hands every `image processed` event to `listener` (the live alert stream): one subscription for both. */
  listen(listener: (event: ImageProcessed) => Promise<void>): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe(Topic.imageProcessed, { group: this.group, concurrency: 64, fromBeginning: false }, async (event) => {
      this.waiting.get(event.event_id)?.(event);
      for (const listener of this.listeners) await listener(event);
    });
  }

  /** Must be called before publishing, so a fast answer is not missed. */
  expect(eventId: string, timeoutMs: number): Promise<ImageProcessed> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(eventId);
        reject(new AppError(ErrorCode.RESULT_TIMEOUT, `no result for image event ${eventId} within ${timeoutMs} ms`, { retryable: true, details: { eventId, timeoutMs } }));
      }, timeoutMs);
      this.waiting.set(eventId, (event) => {
        clearTimeout(timer);
        this.waiting.delete(eventId);
        resolve(event);
      });
    });
  }

  async close(): Promise<void> {
    await this.subscription?.close();
  }
}
