import type { ImageProcessed, Logger } from '@facewatch/core';
import type { AlertRecord, Store } from '@facewatch/db';
import { alertJson } from './alert-json.js';

/** One connected event-stream client. */
export interface AlertClient {
  /** Writes raw Server-Sent Events text; false when the client is gone. */
  write(text: string): boolean;
}

interface Attached {
  client: AlertClient;
  /** seqs sent lately (a redelivered result repeats its alerts): at most `recentLimit`. */
  sent: Set<number>;
}

const recentLimit = 2000;
const replayBatch = 500;

/** The SSE text of one alert: `id` is its seq (for Last-Event-ID), the event name says match or review. */
export function alertEvent(a: AlertRecord): string {
  return `id: ${a.seq}\nevent: ${a.decision === 'match' ? 'face.matched' : 'face.review'}\ndata: ${JSON.stringify(alertJson(a))}\n\n`;
}

/**
 * Fans the alerts out to every event-stream client of this API process. It hears of new results
 * through the process's one `image processed` subscription (shared with the request replies), so
 * any number of clients costs one consumer group; the alerts themselves come from the store, where
 * the matcher wrote them before publishing. A client that reconnects with Last-Event-ID first gets
 * what it missed from the store.
 */
export class AlertHub {
  private readonly clients = new Set<Attached>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly store: Pick<Store, 'alerts'>,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Called for every `image processed` event of this process's subscription. */
  async onProcessed(event: ImageProcessed): Promise<void> {
    if (this.clients.size === 0 || !event.image_id || event.face_count === 0) return;
    // a restarted process's subscription resumes where it stopped: results from before it started
    // are history, which reconnecting clients ask for with Last-Event-ID
    if (Date.parse(event.processed_at) < this.startedAt - 60_000) return;
    let alerts: AlertRecord[];
    try {
      alerts = await this.store.alerts.ofImage(event.image_id);
    } catch (err) {
      this.log.warn({ err, imageId: event.image_id }, 'alerts of a result could not be read for the event stream');
      return;
    }
    for (const attached of this.clients) for (const a of alerts) this.send(attached, a);
  }

  /**
   * Adds a client; with `lastEventId` (a seq), first replays the stored alerts after it. Returns
   * the function that removes the client.
   */
  async attach(client: AlertClient, lastEventId?: number): Promise<() => void> {
    const attached: Attached = { client, sent: new Set() };
    // registered first, so nothing stored during the replay is missed (duplicates are filtered)
    this.clients.add(attached);
    if (lastEventId !== undefined) {
      for (let after = lastEventId; ;) {
        const batch = await this.store.alerts.after(after, replayBatch);
        for (const a of batch) this.send(attached, a);
        if (batch.length < replayBatch) break;
        after = batch.at(-1)!.seq;
      }
    }
    return () => this.clients.delete(attached);
  }

  /** A comment line to every client, so proxies and browsers keep idle connections open. */
  heartbeat(): void {
    for (const attached of this.clients) if (!attached.client.write(': keep-alive\n\n')) this.clients.delete(attached);
  }

  private send(attached: Attached, a: AlertRecord): void {
    if (attached.sent.has(a.seq)) return;
    attached.sent.add(a.seq);
    if (attached.sent.size > recentLimit) attached.sent.delete(attached.sent.values().next().value!);
    if (!attached.client.write(alertEvent(a))) this.clients.delete(attached);
  }
}
