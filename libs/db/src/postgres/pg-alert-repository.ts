import { AppError, ErrorCode } from '@facewatch/core';
import {
  alertColumns,
  alertInsertColumns,
  alertUpsertSet,
  alertValues,
  deliveryColumns,
  deliveryId,
  toAlert,
  toDelivery,
  toWebhook,
  webhookColumns,
  webhookTakes,
  type AlertRow,
  type DeliveryRow,
  type WebhookRow,
} from '../alert-records.js';
import type {
  AlertQuery,
  AlertRecord,
  AlertRepository,
  DeliveryRecord,
  DeliveryRepository,
  DeliveryStatus,
  EvidenceKind,
  EvidenceRepository,
  ProcessedImage,
  ResultExtras,
  WebhookRecord,
  WebhookRepository,
} from '../types.js';
import { paging } from '../sqlite/paging.js';
import { decodeFloat32, encodeFloat32 } from '../sqlite/vector-codec.js';
import type { PgContext, PgTx } from './pg-context.js';

function instant(iso: string, what: string): Date {
  const ms = typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ISO-8601 timestamp, got ${String(iso)}`);
  return new Date(ms);
}

/** A result's alerts, evidence and webhook deliveries, inside its save transaction (as SQLite's saveResultExtras). */
export async function saveResultExtras(tx: PgTx, result: ProcessedImage, extras: ResultExtras, now: Date): Promise<AlertRecord[]> {
  const alerts = extras.alerts ?? [];
  await tx.execute('DELETE FROM alerts WHERE image_id = $1 AND NOT (id = ANY($2::text[]))', [result.id, alerts.map((a) => a.id)]);
  if (alerts.length > 0) {
    const processedAt = instant(result.processed_at, 'processed_at');
    const placeholders = Array.from({ length: 21 }, (_, i) => `$${i + 1}`).join(', ');
    for (const a of alerts) {
      await tx.execute(
        `INSERT INTO alerts (${alertInsertColumns}) VALUES (${placeholders}) ON CONFLICT (id) DO UPDATE SET ${alertUpsertSet}`,
        alertValues(a, processedAt, a.embedding ? encodeFloat32(a.embedding) : null),
      );
    }
    const webhooks = (await tx.query<WebhookRow>(`SELECT ${webhookColumns} FROM webhooks WHERE enabled`)).map(toWebhook);
    for (const a of alerts) {
      for (const w of webhooks) {
        if (!webhookTakes(w.filters, a)) continue;
        await tx.execute(
          `INSERT INTO webhook_deliveries (id, webhook_id, alert_id, status, attempts, next_attempt_at_ms, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $5) ON CONFLICT DO NOTHING`,
          [deliveryId(w.id, a.id), w.id, a.id, now.getTime(), now.toISOString()],
        );
      }
    }
  }
  // evidence is replaced only when given: a re-scored result keeps its crops
  if (extras.evidence !== undefined) await tx.execute('DELETE FROM face_evidence WHERE image_id = $1', [result.id]);
  for (const e of extras.evidence ?? []) {
    await tx.execute('INSERT INTO face_evidence (image_id, face_index, kind, content_type, bytes) VALUES ($1, $2, $3, $4, $5)', [
      result.id,
      e.face_index,
      e.kind,
      e.content_type,
      Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength),
    ]);
  }
  return (await tx.query<AlertRow>(`SELECT ${alertColumns} FROM alerts a WHERE a.image_id = $1 ORDER BY a.face_index, a.seq`, [result.id])).map(toAlert);
}

export class PgAlertRepository implements AlertRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  async list(query: AlertQuery): Promise<{ total_items: number; items: AlertRecord[] }> {
    const { offset, limit } = paging(query);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.personId !== undefined) add('a.person_id = ?', query.personId);
    if (query.decision !== undefined) add('a.decision = ?', query.decision);
    if (query.reviewStatus !== undefined) add('a.review_status = ?', query.reviewStatus);
    if (query.since !== undefined) add('a.processed_at >= ?', instant(query.since, 'since'));
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    return this.#ctx.transaction(
      'listing alerts',
      async (tx) => {
        const [count] = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM alerts a ${clause}`, params);
        const rows = await tx.query<AlertRow>(`SELECT ${alertColumns} FROM alerts a ${clause} ORDER BY a.seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`, [
          ...params,
          limit < 0 ? null : limit,
          offset,
        ]);
        return { total_items: Number(count?.n ?? 0), items: rows.map(toAlert) };
      },
      { snapshot: true },
    );
  }

  async get(id: string): Promise<AlertRecord | undefined> {
    const [row] = await this.#ctx.query<AlertRow>(`reading alert ${id}`, `SELECT ${alertColumns} FROM alerts a WHERE a.id = $1`, [id]);
    return row && toAlert(row);
  }

  async ofImage(imageId: string): Promise<AlertRecord[]> {
    return (
      await this.#ctx.query<AlertRow>(`reading the alerts of ${imageId}`, `SELECT ${alertColumns} FROM alerts a WHERE a.image_id = $1 ORDER BY a.face_index, a.seq`, [imageId])
    ).map(toAlert);
  }

  async after(seq: number, limit: number): Promise<AlertRecord[]> {
    return (await this.#ctx.query<AlertRow>('reading alerts after a seq', `SELECT ${alertColumns} FROM alerts a WHERE a.seq > $1 ORDER BY a.seq LIMIT $2`, [seq, limit])).map(
      toAlert,
    );
  }

  async lastSeq(): Promise<number> {
    const [row] = await this.#ctx.query<{ seq: string | null }>('reading the last alert seq', 'SELECT max(seq) AS seq FROM alerts');
    return Number(row?.seq ?? 0);
  }

  async review(id: string, verdict: { status: 'confirmed' | 'rejected'; note: string | null; by: string | null; at: string }): Promise<AlertRecord | undefined> {
    const [row] = await this.#ctx.query<AlertRow>(
      `reviewing alert ${id}`,
      `UPDATE alerts a SET review_status = $1, review_note = $2, reviewed_by = $3, reviewed_at = $4 WHERE a.id = $5 RETURNING ${alertColumns}`,
      [verdict.status, verdict.note, verdict.by, verdict.at, id],
    );
    return row && toAlert(row);
  }

  async purge(before: string): Promise<number> {
    return this.#ctx.transaction('purging alerts', async (tx) => tx.execute('DELETE FROM alerts WHERE processed_at < $1', [instant(before, 'before')]));
  }

  async rejectedEmbeddings(model: string): Promise<Float32Array[]> {
    const rows = await this.#ctx.query<{ id: string; embedding: Buffer }>(
      'reading rejected alerts',
      "SELECT id, embedding FROM alerts WHERE review_status = 'rejected' AND model = $1 AND embedding IS NOT NULL ORDER BY seq",
      [model],
    );
    return rows.map((r) => decodeFloat32(r.embedding, `embedding of alert ${r.id}`));
  }
}

export class PgEvidenceRepository implements EvidenceRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  async get(imageId: string, faceIndex: number, kind: EvidenceKind): Promise<{ content_type: string; bytes: Uint8Array } | undefined> {
    const [row] = await this.#ctx.query<{ content_type: string; bytes: Buffer }>(
      `reading evidence of ${imageId}`,
      'SELECT content_type, bytes FROM face_evidence WHERE image_id = $1 AND face_index = $2 AND kind = $3',
      [imageId, faceIndex, kind],
    );
    return row && { content_type: row.content_type, bytes: new Uint8Array(row.bytes) };
  }
}

export class PgWebhookRepository implements WebhookRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  async create(w: Omit<WebhookRecord, 'created_at' | 'updated_at'>, at: string): Promise<WebhookRecord> {
    await this.#ctx.query(`creating webhook ${w.id}`, `INSERT INTO webhooks (${webhookColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      w.id,
      w.url,
      w.secret,
      w.description,
      JSON.stringify(w.filters),
      w.enabled,
      at,
      at,
    ]);
    return { ...w, created_at: at, updated_at: at };
  }

  async list(): Promise<WebhookRecord[]> {
    return (await this.#ctx.query<WebhookRow>('listing webhooks', `SELECT ${webhookColumns} FROM webhooks ORDER BY created_at, id`)).map(toWebhook);
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const [row] = await this.#ctx.query<WebhookRow>(`reading webhook ${id}`, `SELECT ${webhookColumns} FROM webhooks WHERE id = $1`, [id]);
    return row && toWebhook(row);
  }

  async update(id: string, changes: Partial<Pick<WebhookRecord, 'url' | 'secret' | 'description' | 'filters' | 'enabled'>>, at: string): Promise<WebhookRecord | undefined> {
    return this.#ctx.transaction(`updating webhook ${id}`, async (tx) => {
      const [row] = await tx.query<WebhookRow>(`SELECT ${webhookColumns} FROM webhooks WHERE id = $1 FOR UPDATE`, [id]);
      if (!row) return undefined;
      const next = { ...toWebhook(row), ...changes, updated_at: at };
      await tx.execute('UPDATE webhooks SET url = $1, secret = $2, description = $3, filters = $4, enabled = $5, updated_at = $6 WHERE id = $7', [
        next.url,
        next.secret,
        next.description,
        JSON.stringify(next.filters),
        next.enabled,
        at,
        id,
      ]);
      return next;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.#ctx.transaction(`deleting webhook ${id}`, async (tx) => (await tx.execute('DELETE FROM webhooks WHERE id = $1', [id])) > 0);
  }
}

export class PgDeliveryRepository implements DeliveryRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  /** SKIP LOCKED: dispatchers of several API processes take different rows. */
  async claim(now: Date, leaseMs: number, limit: number): Promise<DeliveryRecord[]> {
    const nowMs = now.getTime();
    const rows = await this.#ctx.query<DeliveryRow>(
      'claiming webhook deliveries',
      `UPDATE webhook_deliveries SET lease_until_ms = $2
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at_ms <= $1 AND lease_until_ms <= $1
                    ORDER BY next_attempt_at_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING ${deliveryColumns}`,
      [nowMs, nowMs + leaseMs, limit],
    );
    return rows.map(toDelivery).sort((a, b) => a.next_attempt_at.localeCompare(b.next_attempt_at) || a.id.localeCompare(b.id));
  }

  async delivered(id: string, at: Date, status: number): Promise<void> {
    await this.#ctx.query(
      `recording delivery ${id}`,
      "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = $1, last_status = $2, last_error = NULL, lease_until_ms = 0 WHERE id = $3",
      [at.toISOString(), status, id],
    );
  }

  async retry(id: string, next: Date, error: string, status: number | null): Promise<void> {
    await this.#ctx.query(
      `rescheduling delivery ${id}`,
      'UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at_ms = $1, last_error = $2, last_status = $3, lease_until_ms = 0 WHERE id = $4',
      [next.getTime(), error, status, id],
    );
  }

  async failed(id: string, at: Date, error: string, status: number | null): Promise<void> {
    await this.#ctx.query(
      `giving up delivery ${id}`,
      "UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, next_attempt_at_ms = $1, last_error = $2, last_status = $3, lease_until_ms = 0 WHERE id = $4",
      [at.getTime(), error, status, id],
    );
  }

  async countPending(): Promise<number> {
    const [row] = await this.#ctx.query<{ n: string }>('counting pending deliveries', "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'");
    return Number(row?.n ?? 0);
  }

  async list(webhookId: string, options: { offset?: number; limit?: number; status?: DeliveryStatus }): Promise<{ total_items: number; items: DeliveryRecord[] }> {
    const { offset, limit } = paging(options);
    const where = options.status === undefined ? 'webhook_id = $1' : 'webhook_id = $1 AND status = $2';
    const params: unknown[] = options.status === undefined ? [webhookId] : [webhookId, options.status];
    return this.#ctx.transaction(
      `listing the deliveries of ${webhookId}`,
      async (tx) => {
        const [count] = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_deliveries WHERE ${where}`, params);
        const rows = await tx.query<DeliveryRow>(
          `SELECT ${deliveryColumns} FROM webhook_deliveries WHERE ${where} ORDER BY created_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, limit < 0 ? null : limit, offset],
        );
        return { total_items: Number(count?.n ?? 0), items: rows.map(toDelivery) };
      },
      { snapshot: true },
    );
  }
}
