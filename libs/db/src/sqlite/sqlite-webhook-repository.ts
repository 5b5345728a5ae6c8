import { deliveryColumns, toDelivery, toWebhook, webhookColumns, type DeliveryRow, type WebhookRow } from '../alert-records.js';
import type { DeliveryRecord, DeliveryRepository, DeliveryStatus, WebhookRecord, WebhookRepository } from '../types.js';
import { paging } from './paging.js';
import type { SqliteContext } from './sqlite-context.js';

export class SqliteWebhookRepository implements WebhookRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async create(w: Omit<WebhookRecord, 'created_at' | 'updated_at'>, at: string): Promise<WebhookRecord> {
    return this.#ctx.run(`creating webhook ${w.id}`, () => {
      this.#ctx
        .prepare(`INSERT INTO webhooks (${webhookColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(w.id, w.url, w.secret, w.description, JSON.stringify(w.filters), w.enabled ? 1 : 0, at, at);
      return { ...w, created_at: at, updated_at: at };
    });
  }

  async list(): Promise<WebhookRecord[]> {
    return this.#ctx.run('listing webhooks', () => (this.#ctx.prepare(`SELECT ${webhookColumns} FROM webhooks ORDER BY created_at, id`).all() as WebhookRow[]).map(toWebhook));
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    return this.#ctx.run(`reading webhook ${id}`, () => {
      const row = this.#ctx.prepare(`SELECT ${webhookColumns} FROM webhooks WHERE id = ?`).get(id) as WebhookRow | undefined;
      return row && toWebhook(row);
    });
  }

  async update(id: string, changes: Partial<Pick<WebhookRecord, 'url' | 'secret' | 'description' | 'filters' | 'enabled'>>, at: string): Promise<WebhookRecord | undefined> {
    return this.#ctx.run(`updating webhook ${id}`, () => {
      const row = this.#ctx.prepare(`SELECT ${webhookColumns} FROM webhooks WHERE id = ?`).get(id) as WebhookRow | undefined;
      if (!row) return undefined;
      const next = { ...toWebhook(row), ...changes, updated_at: at };
      this.#ctx
        .prepare('UPDATE webhooks SET url = ?, secret = ?, description = ?, filters = ?, enabled = ?, updated_at = ? WHERE id = ?')
        .run(next.url, next.secret, next.description, JSON.stringify(next.filters), next.enabled ? 1 : 0, at, id);
      return next;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.#ctx.run(`deleting webhook ${id}`, () => this.#ctx.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0);
  }
}

export class SqliteDeliveryRepository implements DeliveryRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async claim(now: Date, leaseMs: number, limit: number): Promise<DeliveryRecord[]> {
    const nowMs = now.getTime();
    return this.#ctx.run('claiming webhook deliveries', () =>
      this.#ctx.db
        .transaction(() => {
          const rows = this.#ctx
            .prepare(
              `SELECT ${deliveryColumns} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= ? AND lease_until_ms <= ? ORDER BY next_attempt_at_ms, id LIMIT ?`,
            )
            .all(nowMs, nowMs, limit) as DeliveryRow[];
          const lease = this.#ctx.prepare('UPDATE webhook_deliveries SET lease_until_ms = ? WHERE id = ?');
          for (const r of rows) lease.run(nowMs + leaseMs, r.id);
          return rows.map(toDelivery);
        })
        .immediate(),
    );
  }

  async delivered(id: string, at: Date, status: number): Promise<void> {
    this.#ctx.run(`recording delivery ${id}`, () =>
      this.#ctx
        .prepare(
          "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_status = ?, last_error = NULL, lease_until_ms = 0 WHERE id = ?",
        )
        .run(at.toISOString(), status, id),
    );
  }

  async retry(id: string, next: Date, error: string, status: number | null): Promise<void> {
    this.#ctx.run(`rescheduling delivery ${id}`, () =>
      this.#ctx
        .prepare('UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at_ms = ?, last_error = ?, last_status = ?, lease_until_ms = 0 WHERE id = ?')
        .run(next.getTime(), error, status, id),
    );
  }

  async failed(id: string, at: Date, error: string, status: number | null): Promise<void> {
    this.#ctx.run(`giving up delivery ${id}`, () =>
      this.#ctx
        .prepare(
          "UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, next_attempt_at_ms = ?, last_error = ?, last_status = ?, lease_until_ms = 0 WHERE id = ?",
        )
        .run(at.getTime(), error, status, id),
    );
  }

  async countPending(): Promise<number> {
    return this.#ctx.run('counting pending deliveries', () => this.#ctx.prepare("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'").pluck().get() as number);
  }

  async list(webhookId: string, options: { offset?: number; limit?: number; status?: DeliveryStatus }): Promise<{ total_items: number; items: DeliveryRecord[] }> {
    const { offset, limit } = paging(options);
    const where = options.status === undefined ? 'webhook_id = ?' : 'webhook_id = ? AND status = ?';
    const params = options.status === undefined ? [webhookId] : [webhookId, options.status];
    return this.#ctx.run(`listing the deliveries of ${webhookId}`, () =>
      this.#ctx.db.transaction(() => ({
        total_items: this.#ctx
          .prepare(`SELECT count(*) FROM webhook_deliveries WHERE ${where}`)
          .pluck()
          .get(...params) as number,
        items: (
          this.#ctx
            .prepare(`SELECT ${deliveryColumns} FROM webhook_deliveries WHERE ${where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
            .all(...params, limit, offset) as DeliveryRow[]
        ).map(toDelivery),
      }))(),
    );
  }
}
