import { AppError, ErrorCode } from '@facewatch/core';
import type { AuditEntry, AuditQuery, AuditRepository } from '../types.js';
import { paging } from './paging.js';
import type { SqliteContext } from './sqlite-context.js';

interface AuditRow {
  seq: number;
  at: string;
  actor: string | null;
  source: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: string | null;
}

const columns = 'seq, at, actor, source, action, target_type, target_id, details';
const toEntry = (r: AuditRow): AuditEntry => ({ ...r, details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>) });

function epochMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ISO-8601 timestamp, got ${String(iso)}`);
  return ms;
}

/** The append-only audit log (the table's triggers refuse updates and deletes). */
export class SqliteAuditRepository implements AuditRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry> {
    const atMs = epochMs(entry.at, 'at');
    return this.#ctx.run(`auditing ${entry.action}`, () => {
      const { lastInsertRowid } = this.#ctx
        .prepare(`INSERT INTO audit_log (at, at_ms, actor, source, action, target_type, target_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(entry.at, atMs, entry.actor, entry.source, entry.action, entry.target_type, entry.target_id, entry.details === null ? null : JSON.stringify(entry.details));
      return { ...entry, seq: Number(lastInsertRowid) };
    });
  }

  async list(query: AuditQuery): Promise<{ total_items: number; items: AuditEntry[] }> {
    const { offset, limit } = paging(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.action !== undefined) {
      where.push('action = ?');
      params.push(query.action);
    }
    if (query.actor !== undefined) {
      where.push('actor = ?');
      params.push(query.actor);
    }
    if (query.targetId !== undefined) {
      where.push('target_id = ?');
      params.push(query.targetId);
    }
    if (query.since !== undefined) {
      where.push('at_ms >= ?');
      params.push(epochMs(query.since, 'since'));
    }
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    return this.#ctx.run('reading the audit log', () =>
      this.#ctx.db.transaction(() => ({
        total_items: this.#ctx
          .prepare(`SELECT count(*) FROM audit_log ${clause}`)
          .pluck()
          .get(...params) as number,
        items: (this.#ctx.prepare(`SELECT ${columns} FROM audit_log ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...params, limit, offset) as AuditRow[]).map(toEntry),
      }))(),
    );
  }
}
