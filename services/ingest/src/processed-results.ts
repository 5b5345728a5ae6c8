import { Topic, type EventBus, type ImageProcessed, type ImageReceived, type Subscription } from '@facewatch/core';
import type { ImageSubmitter } from './process-inbox-file.js';

interface Waiter {
  resolve(result: ImageProcessed): void;
}

/**
 * Publishes ImageReceived events and hands each its ImageProcessed answer, matched by event id.
 * The subscription's group receives every result (the in-process bus gives each group every
 * event once), so answers to other senders' events are ignored. With Kafka, each process that
 * waits needs its own group, or answers would be shared out between processes.
 */
export class ProcessedResults implements ImageSubmitter {
  private readonly waiting = new Map<string, Waiter>();

  private constructor(
    private readonly bus: EventBus,
    private subscription: Subscription | undefined,
  ) {}

  static async start(bus: EventBus, group: string): Promise<ProcessedResults> {
    const results = new ProcessedResults(bus, undefined);
    results.subscription = await bus.subscribe(Topic.imageProcessed, { group, concurrency: 16, fromBeginning: false }, async (event) => {
      const waiter = results.waiting.get(event.event_id);
      if (waiter === undefined) return;
      results.waiting.delete(event.event_id);
      waiter.resolve(event);
    });
    return results;
  }

  async submit(event: ImageReceived, signal: AbortSignal): Promise<ImageProcessed> {
    signal.throwIfAborted();
    let onAbort: () => void = () => undefined;
    // registered before publishing, so an answer that comes at once is not missed
    const answer = new Promise<ImageProcessed>((resolve, reject) => {
      onAbort = () => {
        this.waiting.delete(event.event_id);
        reject(signal.reason);
      };
      this.waiting.set(event.event_id, {
        resolve: (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await this.bus.publish(Topic.imageReceived, event.event_id, event);
    } catch (err) {
      this.waiting.delete(event.event_id);
      signal.removeEventListener('abort', onAbort);
      answer.catch(() => undefined);
      throw err;
    }
    return answer;
  }

  /** Stops receiving answers; callers still waiting should have been aborted first. */
  async close(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }
}
