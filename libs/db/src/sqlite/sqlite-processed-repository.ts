import type { Statement } from 'better-sqlite3';
import { AppError, ErrorCode } from '@facewatch/core';
import type { AlertRecord, DecisionDetails, ErasureReport, ProcessedImage, ProcessedQuery, ProcessedRepository, ResultExtras } from '../types.js';
import { ERASED, eraseFromDetails } from '../erasure.js';
import { saveResultExtras } from './sqlite-alert-repository.js';
import { assembleProcessed, decisionDetails, matchColumns, type ProcessedFaceRow, type ProcessedImageRow, type ProcessedMatchRow } from '../processed-records.js';
import { paging } from './paging.js';
import type { SqliteContext } from './sqlite-context.js';

type ImageRow = ProcessedImageRow;
type FaceRow = ProcessedFaceRow;
type MatchRow = ProcessedMatchRow;

const imageColumns = `p.id, p.identifier, p.source, p.sha256, p.stored_image_path, p.width, p.height, p.model_name,
  p.detector_backend, p.distance_metric, p.matched, p.error_code, p.error_message, p.processed_at`;

function epochMs(iso: string, what: string): number {
  const ms = typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ISO-8601 timestamp, got ${String(iso)}`);
  return ms;
}

/**
 * Processed images with their faces and matches. Matches keep the person's id and name as they were:
 * deleting a person leaves their past alerts in place.
 */
export class SqliteProcessedRepository implements ProcessedRepository {
  readonly #ctx: SqliteContext;
  /** List statements by filter combination (at most 8). */
  readonly #listStatements = new Map<string, { count: Statement; page: Statement }>();

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async save(result: ProcessedImage, extras: ResultExtras = {}): Promise<{ alerts: AlertRecord[] }> {
    const processedAtMs = epochMs(result.processed_at, 'processed_at');
    return this.#ctx.run(`saving processed image ${result.id}`, () => {
      const ctx = this.#ctx;
      return ctx.db
        .transaction(() => {
          ctx
            .prepare(
              `INSERT INTO processed_images (id, identifier, source, sha256, stored_image_path, width, height, model_name, detector_backend,
                distance_metric, matched, error_code, error_message, processed_at, processed_at_ms, face_count)
              VALUES (@id, @identifier, @source, @sha256, @stored_image_path, @width, @height, @model_name, @detector_backend,
                @distance_metric, @matched, @error_code, @error_message, @processed_at, @processed_at_ms, @face_count)
              ON CONFLICT (id) DO UPDATE SET identifier = excluded.identifier, source = excluded.source, sha256 = excluded.sha256,
                stored_image_path = excluded.stored_image_path, width = excluded.width, height = excluded.height,
                model_name = excluded.model_name, detector_backend = excluded.detector_backend, distance_metric = excluded.distance_metric,
                matched = excluded.matched, error_code = excluded.error_code, error_message = excluded.error_message,
                processed_at = excluded.processed_at, processed_at_ms = excluded.processed_at_ms, face_count = excluded.face_count`,
            )
            .run({
              id: result.id,
              identifier: result.image_path_or_identifier,
              source: result.source,
              sha256: result.sha256,
              stored_image_path: result.stored_image_path,
              width: result.width,
              height: result.height,
              model_name: result.model_name,
              detector_backend: result.detector_backend,
              distance_metric: result.distance_metric,
              matched: result.matched ? 1 : 0,
              error_code: result.error?.code ?? null,
              error_message: result.error?.message ?? null,
              processed_at: result.processed_at,
              processed_at_ms: processedAtMs,
              face_count: result.faces.length,
            });
          // a redelivered result replaces the faces (and, by cascade, the matches) it had
          ctx.prepare('DELETE FROM processed_faces WHERE image_id = ?').run(result.id);
          const insertFace = ctx.prepare('INSERT INTO processed_faces (image_id, face_index, facial_area, confidence, decision, details) VALUES (?, ?, ?, ?, ?, ?)');
          const insertMatch = ctx.prepare(`INSERT INTO face_matches (image_id, face_index, rank, ${matchColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
          for (const face of result.faces) {
            insertFace.run(result.id, face.face_index, JSON.stringify(face.facial_area), face.confidence, face.decision, JSON.stringify(decisionDetails(face)));
            face.blacklist_matches.forEach((m, rank) => {
              insertMatch.run(
                result.id,
                face.face_index,
                rank,
                m.person_id,
                m.name,
                m.identity,
                m.distance,
                m.threshold,
                m.target_x,
                m.target_y,
                m.target_w,
                m.target_h,
                m.source_x,
                m.source_y,
                m.source_w,
                m.source_h,
              );
            });
          }
          return { alerts: saveResultExtras(ctx, result, extras, Date.now()) };
        })
        .immediate();
    });
  }

  async get(id: string): Promise<ProcessedImage | undefined> {
    return this.#ctx.run(`reading processed image ${id}`, () => {
      const ctx = this.#ctx;
      return ctx.db.transaction(() => {
        const row = ctx.prepare(`SELECT ${imageColumns} FROM processed_images p WHERE p.id = ?`).get(id) as ImageRow | undefined;
        return row && this.#withFaces([row])[0];
      })();
    });
  }

  /**
   * Newest first (processed_at, then id); `matched`, `personId` (images with a match of that person)
   * and `since` (processed at or after it) combine with AND; total_items counts the filtered rows.
   * Without a limit, every row.
   */
  async list(query: ProcessedQuery = {}): Promise<{ total_items: number; items: ProcessedImage[] }> {
    const { offset, limit } = paging(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.matched !== undefined) {
      where.push('p.matched = ?');
      params.push(query.matched ? 1 : 0);
    }
    if (query.personId !== undefined) {
      // Not `EXISTS (… m.image_id = p.id)`: SQLite 3.51.2 (better-sqlite3 12.6.2) turns that into a join
      // and then ignores OFFSET when the newest-first index gives the order (the contract suite catches it).
      where.push('p.id IN (SELECT m.image_id FROM face_matches m WHERE m.person_id = ?)');
      params.push(query.personId);
    }
    if (query.since !== undefined) {
      where.push('p.processed_at_ms >= ?');
      params.push(epochMs(query.since, 'since'));
    }
    return this.#ctx.run('listing processed images', () => {
      const { count, page } = this.#listStatement(where);
      return this.#ctx.db.transaction(() => {
        const total = count.pluck().get(...params) as number;
        const rows = page.all(...params, limit, offset) as ImageRow[];
        return { total_items: total, items: this.#withFaces(rows) };
      })();
    });
  }

  async purge(before: string): Promise<{ results: number; copies: string[] }> {
    const beforeMs = epochMs(before, 'before');
    return this.#ctx.run('purging processed images', () =>
      this.#ctx.db
        .transaction(() => {
          const copies = this.#ctx
            .prepare('SELECT stored_image_path FROM processed_images WHERE processed_at_ms < ? AND stored_image_path IS NOT NULL')
            .pluck()
            .all(beforeMs) as string[];
          const results = this.#ctx.prepare('DELETE FROM processed_images WHERE processed_at_ms < ?').run(beforeMs).changes;
          return { results, copies };
        })
        .immediate(),
    );
  }

  async erasePerson(personId: string): Promise<ErasureReport> {
    return this.#ctx.run(`erasing person ${personId} from results`, () =>
      this.#ctx.db
        .transaction(() => {
          const ctx = this.#ctx;
          const evidence = ctx
            .prepare(
              `DELETE FROM face_evidence WHERE (image_id, face_index) IN (
                 SELECT image_id, face_index FROM face_matches WHERE person_id = ? UNION SELECT image_id, face_index FROM alerts WHERE person_id = ?)`,
            )
            .run(personId, personId).changes;
          const matches = ctx
            .prepare('UPDATE face_matches SET person_id = ?, name = ?, identity = ? WHERE person_id = ?')
            .run(ERASED.person_id, ERASED.name, ERASED.identity, personId).changes;
          const alerts = ctx.prepare('DELETE FROM alerts WHERE person_id = ?').run(personId).changes;
          let faces = 0;
          const rows = ctx.prepare("SELECT image_id, face_index, details FROM processed_faces WHERE details LIKE '%' || ? || '%'").all(personId) as {
            image_id: string;
            face_index: number;
            details: string;
          }[];
          const update = ctx.prepare('UPDATE processed_faces SET details = ? WHERE image_id = ? AND face_index = ?');
          for (const r of rows) {
            const erased = eraseFromDetails(JSON.parse(r.details) as DecisionDetails, personId);
            if (erased) {
              update.run(JSON.stringify(erased), r.image_id, r.face_index);
              faces++;
            }
          }
          return { matches, alerts, evidence, faces };
        })
        .immediate(),
    );
  }

  #listStatement(where: string[]): { count: Statement; page: Statement } {
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    let statements = this.#listStatements.get(clause);
    if (statements === undefined) {
      statements = {
        count: this.#ctx.db.prepare(`SELECT count(*) FROM processed_images p ${clause}`),
        page: this.#ctx.db.prepare(`SELECT ${imageColumns} FROM processed_images p ${clause} ORDER BY p.processed_at_ms DESC, p.id LIMIT ? OFFSET ?`),
      };
      this.#listStatements.set(clause, statements);
    }
    return statements;
  }

  /** The API shape of image rows, with their faces (by face_index) and matches (by rank). */
  #withFaces(rows: ImageRow[]): ProcessedImage[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((r) => r.id));
    const faceRows = this.#ctx
      .prepare(
        'SELECT image_id, face_index, facial_area, confidence, decision, details FROM processed_faces WHERE image_id IN (SELECT value FROM json_each(?)) ORDER BY image_id, face_index',
      )
      .all(ids) as FaceRow[];
    const matchRows = this.#ctx
      .prepare(`SELECT image_id, face_index, ${matchColumns} FROM face_matches WHERE image_id IN (SELECT value FROM json_each(?)) ORDER BY image_id, face_index, rank`)
      .all(ids) as MatchRow[];
    return assembleProcessed(rows, faceRows, matchRows);
  }
}
