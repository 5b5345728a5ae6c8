import { AppError, ErrorCode } from '@facewatch/core';
import { assembleProcessed, decisionDetails, matchColumns, matchFields, type ProcessedFaceRow, type ProcessedImageRow, type ProcessedMatchRow } from '../processed-records.js';
import type { AlertRecord, DecisionDetails, ErasureReport, ProcessedImage, ProcessedQuery, ProcessedRepository, ResultExtras } from '../types.js';
import { ERASED, eraseFromDetails } from '../erasure.js';
import { saveResultExtras } from './pg-alert-repository.js';
import { paging } from '../sqlite/paging.js';
import type { PgContext, PgTx } from './pg-context.js';

type ImageRow = ProcessedImageRow;
type FaceRow = ProcessedFaceRow;
type MatchRow = ProcessedMatchRow;

const imageColumns = `p.id, p.identifier, p.source, p.sha256, p.stored_image_path, p.width, p.height, p.model_name,
  p.detector_backend, p.distance_metric, p.matched, p.error_code, p.error_message, p.processed_at_text AS processed_at`;

/** The epoch-ms instant of an ISO-8601 text, parsed as JavaScript does (the same accept set and precision as SQLite's processed_at_ms). */
function instant(iso: string, what: string): Date {
  const ms = typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ISO-8601 timestamp, got ${String(iso)}`);
  return new Date(ms);
}

/**
 * Processed images with their faces and matches. Matches keep the person's id and name as they were:
 * deleting a person leaves their past alerts in place.
 */
export class PgProcessedRepository implements ProcessedRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  /**
   * Upsert by id; the faces (and, by cascade, the matches) of that id are deleted and written again
   * in the same transaction, so a redelivered result never duplicates rows. Two saves of one id at
   * once queue on the row lock of the upsert: the later one wins whole.
   */
  async save(result: ProcessedImage, extras: ResultExtras = {}): Promise<{ alerts: AlertRecord[] }> {
    const processedAt = instant(result.processed_at, 'processed_at');
    return this.#ctx.transaction(`saving processed image ${result.id}`, async (tx) => {
      await tx.execute(
        `INSERT INTO processed_images (id, identifier, source, sha256, stored_image_path, width, height, model_name, detector_backend,
           distance_metric, matched, error_code, error_message, processed_at, processed_at_text, face_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (id) DO UPDATE SET identifier = excluded.identifier, source = excluded.source, sha256 = excluded.sha256,
           stored_image_path = excluded.stored_image_path, width = excluded.width, height = excluded.height,
           model_name = excluded.model_name, detector_backend = excluded.detector_backend, distance_metric = excluded.distance_metric,
           matched = excluded.matched, error_code = excluded.error_code, error_message = excluded.error_message,
           processed_at = excluded.processed_at, processed_at_text = excluded.processed_at_text, face_count = excluded.face_count`,
        [
          result.id,
          result.image_path_or_identifier,
          result.source,
          result.sha256,
          result.stored_image_path,
          result.width,
          result.height,
          result.model_name,
          result.detector_backend,
          result.distance_metric,
          result.matched,
          result.error?.code ?? null,
          result.error?.message ?? null,
          processedAt,
          result.processed_at,
          result.faces.length,
        ],
      );
      // a redelivered result replaces the faces (and, by cascade, the matches) it had
      await tx.execute('DELETE FROM processed_faces WHERE image_id = $1', [result.id]);
      await this.#saveFaces(tx, result);
      return { alerts: await saveResultExtras(tx, result, extras, new Date()) };
    });
  }

  async #saveFaces(tx: PgTx, result: ProcessedImage): Promise<void> {
    {
      if (result.faces.length === 0) return;
      // one statement per table whatever the number of faces and matches (arrays unnested server-side)
      await tx.execute(
        `INSERT INTO processed_faces (image_id, face_index, facial_area, confidence, decision, details)
         SELECT $1, * FROM unnest($2::integer[], $3::json[], $4::double precision[], $5::text[], $6::jsonb[])`,
        [
          result.id,
          result.faces.map((f) => f.face_index),
          result.faces.map((f) => JSON.stringify(f.facial_area)),
          result.faces.map((f) => f.confidence),
          result.faces.map((f) => f.decision),
          result.faces.map((f) => JSON.stringify(decisionDetails(f))),
        ],
      );
      const matches = result.faces.flatMap((f) => f.blacklist_matches.map((m, rank) => ({ faceIndex: f.face_index, rank, m })));
      if (matches.length === 0) return;
      const columns = matchFields.map((field) => matches.map(({ m }) => m[field]));
      await tx.execute(
        `INSERT INTO face_matches (image_id, face_index, rank, ${matchColumns})
         SELECT $1, * FROM unnest($2::integer[], $3::integer[], $4::text[], $5::text[], $6::text[],
           $7::double precision[], $8::double precision[], $9::double precision[], $10::double precision[], $11::double precision[],
           $12::double precision[], $13::double precision[], $14::double precision[], $15::double precision[], $16::double precision[])`,
        [result.id, matches.map((x) => x.faceIndex), matches.map((x) => x.rank), ...columns],
      );
    }
  }

  async get(id: string): Promise<ProcessedImage | undefined> {
    return this.#ctx.transaction(
      `reading processed image ${id}`,
      async (tx) => {
        const rows = await tx.query<ImageRow>(`SELECT ${imageColumns} FROM processed_images p WHERE p.id = $1`, [id]);
        return (await withFaces(tx, rows))[0];
      },
      { snapshot: true },
    );
  }

  /**
   * Newest first (processed_at, then id); `matched`, `personId` (images with a match of that person)
   * and `since` (processed at or after it) combine with AND; total_items counts the filtered rows.
   * Without a limit, every row. The count and the page come from one snapshot.
   */
  async list(query: ProcessedQuery = {}): Promise<{ total_items: number; items: ProcessedImage[] }> {
    const { offset, limit } = paging(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.matched !== undefined) {
      params.push(query.matched);
      where.push(`p.matched = $${params.length}`);
    }
    if (query.personId !== undefined) {
      params.push(query.personId);
      where.push(`EXISTS (SELECT 1 FROM face_matches m WHERE m.image_id = p.id AND m.person_id = $${params.length})`);
    }
    if (query.since !== undefined) {
      params.push(instant(query.since, 'since'));
      where.push(`p.processed_at >= $${params.length}`);
    }
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    return this.#ctx.transaction(
      'listing processed images',
      async (tx) => {
        const [counted] = await tx.query<{ total: number }>(`SELECT count(*)::integer AS total FROM processed_images p ${clause}`, params);
        const rows = await tx.query<ImageRow>(
          `SELECT ${imageColumns} FROM processed_images p ${clause} ORDER BY p.processed_at DESC, p.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, limit < 0 ? null : limit, offset],
        );
        return { total_items: counted?.total ?? 0, items: await withFaces(tx, rows) };
      },
      { snapshot: true },
    );
  }

  async purge(before: string): Promise<{ results: number; copies: string[] }> {
    const cut = instant(before, 'before');
    return this.#ctx.transaction('purging processed images', async (tx) => {
      const rows = await tx.query<{ stored_image_path: string | null }>('DELETE FROM processed_images WHERE processed_at < $1 RETURNING stored_image_path', [cut]);
      return { results: rows.length, copies: rows.flatMap((r) => (r.stored_image_path ? [r.stored_image_path] : [])) };
    });
  }

  async erasePerson(personId: string): Promise<ErasureReport> {
    return this.#ctx.transaction(`erasing person ${personId} from results`, async (tx) => {
      const evidence = await tx.execute(
        `DELETE FROM face_evidence WHERE (image_id, face_index) IN (
           SELECT image_id, face_index FROM face_matches WHERE person_id = $1 UNION SELECT image_id, face_index FROM alerts WHERE person_id = $1)`,
        [personId],
      );
      const matches = await tx.execute('UPDATE face_matches SET person_id = $1, name = $2, identity = $3 WHERE person_id = $4', [
        ERASED.person_id,
        ERASED.name,
        ERASED.identity,
        personId,
      ]);
      const alerts = await tx.execute('DELETE FROM alerts WHERE person_id = $1', [personId]);
      let faces = 0;
      const rows = await tx.query<{ image_id: string; face_index: number; details: DecisionDetails }>(
        "SELECT image_id, face_index, details FROM processed_faces WHERE details @> jsonb_build_object('candidates', jsonb_build_array(jsonb_build_object('person_id', $1::text)))",
        [personId],
      );
      for (const r of rows) {
        const erased = eraseFromDetails(r.details, personId);
        if (!erased) continue;
        await tx.execute('UPDATE processed_faces SET details = $1 WHERE image_id = $2 AND face_index = $3', [JSON.stringify(erased), r.image_id, r.face_index]);
        faces++;
      }
      return { matches, alerts, evidence, faces };
    });
  }
}

/** The API shape of image rows, with their faces (by face_index) and matches (by rank). */
async function withFaces(tx: PgTx, rows: ImageRow[]): Promise<ProcessedImage[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const faceRows = await tx.query<FaceRow>(
    'SELECT image_id, face_index, facial_area, confidence, decision, details FROM processed_faces WHERE image_id = ANY($1::text[]) ORDER BY image_id, face_index',
    [ids],
  );
  const matchRows = await tx.query<MatchRow>(
    `SELECT image_id, face_index, ${matchColumns} FROM face_matches WHERE image_id = ANY($1::text[]) ORDER BY image_id, face_index, rank`,
    [ids],
  );
  return assembleProcessed(rows, faceRows, matchRows);
}
