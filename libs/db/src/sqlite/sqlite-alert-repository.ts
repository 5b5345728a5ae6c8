import { AppError, ErrorCode } from '@facewatch/core';
import {
  alertColumns,
  alertInsertColumns,
  alertUpsertSet,
  alertValues,
  deliveryId,
  toAlert,
  toWebhook,
  webhookColumns,
  webhookTakes,
  type AlertRow,
  type WebhookRow,
} from '../alert-records.js';
import type { AlertQuery, AlertRecord, AlertRepository, EvidenceKind, EvidenceRepository, ProcessedImage, ResultExtras } from '../types.js';
import { paging } from './paging.js';
import type { SqliteContext } from './sqlite-context.js';
import { decodeFloat32, encodeFloat32 } from './vector-codec.js';

function epochMs(iso: string, what: string): number {
  const ms = typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ISO-8601 timestamp, got ${String(iso)}`);
  return ms;
}

/**
 * Writes a result's alerts, evidence and webhook deliveries; runs inside the result's save
 * transaction. Alerts of the image that are no longer match or review are removed (a re-scored
 * redelivery); a kept alert keeps its seq and review.
 */
export function saveResultExtras(ctx: SqliteContext, result: ProcessedImage, extras: ResultExtras, nowMs: number): AlertRecord[] {
  const alerts = extras.alerts ?? [];
  const ids = JSON.stringify(alerts.map((a) => a.id));
  ctx.prepare('DELETE FROM alerts WHERE image_id = ? AND id NOT IN (SELECT value FROM json_each(?))').run(result.id, ids);
  if (alerts.length > 0) {
    const processedAt = epochMs(result.processed_at, 'processed_at');
    const upsert = ctx.prepare(`INSERT INTO alerts (${alertInsertColumns}) VALUES (${new Array(21).fill('?').join(', ')}) ON CONFLICT (id) DO UPDATE SET ${alertUpsertSet}`);
    for (const a of alerts) upsert.run(...alertValues(a, processedAt, a.embedding ? encodeFloat32(a.embedding) : null));
    const webhooks = (ctx.prepare(`SELECT ${webhookColumns} FROM webhooks WHERE enabled = 1`).all() as WebhookRow[]).map(toWebhook);
    const enqueue = ctx.prepare(
      `INSERT INTO webhook_deliveries (id, webhook_id, alert_id, status, attempts, next_attempt_at_ms, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const created = new Date(nowMs).toISOString();
    for (const a of alerts) for (const w of webhooks) if (webhookTakes(w.filters, a)) enqueue.run(deliveryId(w.id, a.id), w.id, a.id, nowMs, created);
  }
  // evidence is replaced only when given: a re-scored result keeps its crops
  if (extras.evidence !== undefined) ctx.prepare('DELETE FROM face_evidence WHERE image_id = ?').run(result.id);
  const insertEvidence = ctx.prepare('INSERT INTO face_evidence (image_id, face_index, kind, content_type, bytes) VALUES (?, ?, ?, ?, ?)');
  for (const e of extras.evidence ?? []) insertEvidence.run(result.id, e.face_index, e.kind, e.content_type, Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength));
  return (ctx.prepare(`SELECT ${alertColumns} FROM alerts a WHERE a.image_id = ? ORDER BY a.face_index, a.seq`).all(result.id) as AlertRow[]).map(toAlert);
}

export class SqliteAlertRepository implements AlertRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async list(query: AlertQuery): Promise<{ total_items: number; items: AlertRecord[] }> {
    const { offset, limit } = paging(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.personId !== undefined) {
      where.push('a.person_id = ?');
      params.push(query.personId);
    }
    if (query.decision !== undefined) {
      where.push('a.decision = ?');
      params.push(query.decision);
    }
    if (query.reviewStatus !== undefined) {
      where.push('a.review_status = ?');
      params.push(query.reviewStatus);
    }
    if (query.since !== undefined) {
      where.push('a.processed_at >= ?');
      params.push(epochMs(query.since, 'since'));
    }
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    return this.#ctx.run('listing alerts', () =>
      this.#ctx.db.transaction(() => {
        const total = this.#ctx
          .prepare(`SELECT count(*) FROM alerts a ${clause}`)
          .pluck()
          .get(...params) as number;
        const rows = this.#ctx.prepare(`SELECT ${alertColumns} FROM alerts a ${clause} ORDER BY a.seq DESC LIMIT ? OFFSET ?`).all(...params, limit, offset) as AlertRow[];
        return { total_items: total, items: rows.map(toAlert) };
      })(),
    );
  }

  async get(id: string): Promise<AlertRecord | undefined> {
    return this.#ctx.run(`reading alert ${id}`, () => {
      const row = this.#ctx.prepare(`SELECT ${alertColumns} FROM alerts a WHERE a.id = ?`).get(id) as AlertRow | undefined;
      return row && toAlert(row);
    });
  }

  async ofImage(imageId: string): Promise<AlertRecord[]> {
    return this.#ctx.run(`reading the alerts of ${imageId}`, () =>
      (this.#ctx.prepare(`SELECT ${alertColumns} FROM alerts a WHERE a.image_id = ? ORDER BY a.face_index, a.seq`).all(imageId) as AlertRow[]).map(toAlert),
    );
  }

  async after(seq: number, limit: number): Promise<AlertRecord[]> {
    return this.#ctx.run('reading alerts after a seq', () =>
      (this.#ctx.prepare(`SELECT ${alertColumns} FROM alerts a WHERE a.seq > ? ORDER BY a.seq LIMIT ?`).all(seq, limit) as AlertRow[]).map(toAlert),
    );
  }

  async lastSeq(): Promise<number> {
    return this.#ctx.run('reading the last alert seq', () => (this.#ctx.prepare('SELECT coalesce(max(seq), 0) FROM alerts').pluck().get() as number) ?? 0);
  }

  async review(id: string, verdict: { status: 'confirmed' | 'rejected'; note: string | null; by: string | null; at: string }): Promise<AlertRecord | undefined> {
    return this.#ctx.run(`reviewing alert ${id}`, () => {
      const changed = this.#ctx
        .prepare('UPDATE alerts SET review_status = ?, review_note = ?, reviewed_by = ?, reviewed_at = ? WHERE id = ?')
        .run(verdict.status, verdict.note, verdict.by, verdict.at, id).changes;
      if (changed === 0) return undefined;
      return toAlert(this.#ctx.prepare(`SELECT ${alertColumns} FROM alerts a WHERE a.id = ?`).get(id) as AlertRow);
    });
  }

  async purge(before: string): Promise<number> {
    const beforeMs = epochMs(before, 'before');
    return this.#ctx.run('purging alerts', () => this.#ctx.prepare('DELETE FROM alerts WHERE processed_at < ?').run(beforeMs).changes);
  }

  async rejectedEmbeddings(model: string): Promise<Float32Array[]> {
    return this.#ctx.run('reading rejected alerts', () =>
      (
        this.#ctx.prepare("SELECT id, embedding FROM alerts WHERE review_status = 'rejected' AND model = ? AND embedding IS NOT NULL ORDER BY seq").all(model) as {
          id: string;
          embedding: Buffer;
        }[]
      ).map((r) => decodeFloat32(r.embedding, `embedding of alert ${r.id}`)),
    );
  }
}

export class SqliteEvidenceRepository implements EvidenceRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async get(imageId: string, faceIndex: number, kind: EvidenceKind): Promise<{ content_type: string; bytes: Uint8Array } | undefined> {
    return this.#ctx.run(`reading evidence of ${imageId}`, () => {
      const row = this.#ctx.prepare('SELECT content_type, bytes FROM face_evidence WHERE image_id = ? AND face_index = ? AND kind = ?').get(imageId, faceIndex, kind) as
        { content_type: string; bytes: Buffer } | undefined;
      return row && { content_type: row.content_type, bytes: new Uint8Array(row.bytes) };
    });
  }
}
