import { AppError, ErrorCode } from '@facewatch/core';
import type { AuditEntry, AuditQuery, AuditRepository } from '../types.js';
import { paging } from '../sqlite/paging.js';
import type { PgContext } from './pg-context.js';

interface AuditRow {
  seq: string;
  at: string;
  actor: string | null;
  source: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown> | null;
}

const columns = 'seq, at, actor, source, action, target_type, target_id, details';
const toEntry = (r: AuditRow): AuditEntry => ({ ...r, seq: Number(r.seq) });

function epochMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ISO-8601 timestamp, got ${String(iso)}`);
  return ms;
}

/** The append-only audit log (a statement trigger refuses updates, deletes and truncation). */
export class PgAuditRepository implements AuditRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  async append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    const [row] = await this.#ctx.query<{ seq: string }>(
      `auditing ${entry.action}`,
      'INSERT INTO audit_log (at, at_ms, actor, source, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq',
      [
        entry.at,
        epochMs(entry.at, 'at'),
        entry.actor,
        entry.source,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.details === null ? null : JSON.stringify(entry.details),
      ],
    );
    return { ...entry, seq: Number(row!.seq) };
  }

  async list(query: AuditQuery): Promise<{ total_items: number; items: AuditEntry[] }> {
    const { offset, limit } = paging(query);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(`${sql} $${params.length}`);
    };
    if (query.action !== undefined) add('action =', query.action);
    if (query.actor !== undefined) add('actor =', query.actor);
    if (query.targetId !== undefined) add('target_id =', query.targetId);
    if (query.since !== undefined) add('at_ms >=', epochMs(query.since, 'since'));
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    return this.#ctx.transaction(
      'reading the audit log',
      async (tx) => {
        const [count] = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log ${clause}`, params);
        const rows = await tx.query<AuditRow>(`SELECT ${columns} FROM audit_log ${clause} ORDER BY seq DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`, [
          ...params,
          limit < 0 ? null : limit,
          offset,
        ]);
        return { total_items: Number(count?.n ?? 0), items: rows.map(toEntry) };
      },
      { snapshot: true },
    );
  }
}
