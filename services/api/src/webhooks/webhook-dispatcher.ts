import { randomInt } from 'node:crypto';
import { metrics, toAppError, type Logger, type WebhookConfig } from '@facewatch/core';
import { guardedPost, type ImageSourcePolicy } from '@facewatch/image-source';
import type { DeliveryRecord, Store } from '@facewatch/db';
import { alertJson } from '../alerts/alert-json.js';
import { signWebhook, WebhookHeader } from './signature.js';

/** Deliveries taken per round. */
const batch = 16;

/**
 * Works off the webhook outbox: the delivery rows the store writes in the same transaction as
 * their alert. Every due delivery is POSTed (signed, under the URL guard); a 2xx answer marks it
 * delivered, anything else schedules another try with exponential back-off and jitter, and
 * after `maxAttempts` it is given up with its last error kept. Rows are leased while in work, so
 * several API processes share the outbox and a crash only delays a delivery until the lease runs
 * out. A crash after the receiver answered but before the row was marked means one repeat, with the
 * same X-Facewatch-Delivery id.
 */
export class WebhookDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: Pick<Store, 'deliveries' | 'webhooks' | 'alerts'>,
    private readonly policy: Pick<ImageSourcePolicy, 'url'>,
    private readonly config: WebhookConfig,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.config.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due deliveries now (new alerts were stored); rounds never overlap. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.round()
      .catch((err: unknown) => this.log.warn({ err }, 'webhook round failed; retrying at the next poll'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops polling and waits for the round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async round(): Promise<void> {
    for (;;) {
      // held long enough for one POST (and its bookkeeping); a process that died lets go after it
      const due = await this.store.deliveries.claim(this.now(), 2 * this.config.timeoutMs + 1000, batch);
      if (due.length === 0) return;
      await Promise.all(due.map((d) => this.deliver(d)));
      if (this.stopped || due.length < batch) return;
    }
  }

  private async deliver(delivery: DeliveryRecord): Promise<void> {
    const [webhook, alert] = await Promise.all([this.store.webhooks.get(delivery.webhook_id), this.store.alerts.get(delivery.alert_id)]);
    if (!webhook || !alert) {
      // deleted meanwhile (the webhook cascade removes its rows; an alert goes with retention)
      await this.store.deliveries.failed(delivery.id, this.now(), alert ? 'the webhook was deleted' : 'the alert no longer exists', null);
      return;
    }
    const event = alert.decision === 'match' ? 'face.matched' : 'face.review';
    const body = JSON.stringify({ event, delivery_id: delivery.id, webhook_id: webhook.id, alert: alertJson(alert) });
    const timestamp = Math.floor(this.now().getTime() / 1000);
    let status: number | null = null;
    let error: string;
    try {
      ({ status } = await guardedPost(
        webhook.url,
        body,
        {
          [WebhookHeader.timestamp]: String(timestamp),
          [WebhookHeader.signature]: signWebhook(webhook.secret, timestamp, body),
          [WebhookHeader.delivery]: delivery.id,
          [WebhookHeader.event]: event,
        },
        this.policy,
        this.config.timeoutMs,
      ));
      if (status >= 200 && status < 300) {
        await this.store.deliveries.delivered(delivery.id, this.now(), status);
        metrics.webhookDeliveries.inc({ outcome: 'delivered' });
        this.log.info({ deliveryId: delivery.id, webhookId: webhook.id, alertId: alert.id, status, attempt: delivery.attempts + 1 }, 'webhook delivered');
        return;
      }
      error = `the receiver answered HTTP ${status}`;
    } catch (err) {
      error = toAppError(err).message;
    }
    const attempt = delivery.attempts + 1;
    if (attempt >= this.config.maxAttempts) {
      await this.store.deliveries.failed(delivery.id, this.now(), error, status);
      metrics.webhookDeliveries.inc({ outcome: 'failed' });
      this.log.warn({ deliveryId: delivery.id, webhookId: webhook.id, alertId: alert.id, attempts: attempt, error }, 'webhook delivery given up');
      return;
    }
    const delayMs = backoff(attempt, this.config.retryInitialMs, this.config.retryMaxMs);
    await this.store.deliveries.retry(delivery.id, new Date(this.now().getTime() + delayMs), error, status);
    metrics.webhookDeliveries.inc({ outcome: 'retry' });
    this.log.info({ deliveryId: delivery.id, webhookId: webhook.id, attempt, delayMs, error }, 'webhook delivery failed; retrying');
  }
}

/**
 * Exponential back-off with jitter: a random wait between half and all of initial × 2^(attempt−1),
 * capped (the random half spreads receivers' recoveries; the fixed half keeps a failing receiver
 * from being hammered).
 */
export function backoff(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(30, attempt - 1));
  return randomInt(Math.max(1, Math.floor(ceiling / 2)), Math.max(2, Math.floor(ceiling) + 1));
}
