import pg from 'pg';
import { AppError, ErrorCode } from '@facewatch/core';
import type { ReferenceFace, ReferenceImage, ReferenceRepository } from '../types.js';
import { decodeFloat32, encodeFloat32 } from '../sqlite/vector-codec.js';
import type { PgContext } from './pg-context.js';

interface ImageRow {
  id: string;
  person_id: string;
  file_name: string;
  sha256: string;
  bytes: string;
  created_at: string;
}

interface FaceRow {
  id: string;
  image_id: string;
  person_id: string;
  model: string;
  embedding: Buffer;
  norm: number;
  box: ReferenceFace['box'];
}

const faceColumns = 'f.id, f.image_id, f.person_id, f.model, f.embedding, f.norm, f.box';

function toImage(row: ImageRow): ReferenceImage {
  // bytes is a bigint column, which node-postgres gives as text
  return { id: row.id, personId: row.person_id, fileName: row.file_name, sha256: row.sha256, bytes: Number(row.bytes), createdAt: row.created_at };
}

function toFace(row: FaceRow): ReferenceFace {
  return {
    id: row.id,
    imageId: row.image_id,
    personId: row.person_id,
    model: row.model,
    embedding: decodeFloat32(row.embedding, `embedding of reference face ${row.id}`),
    norm: row.norm,
    box: row.box,
  };
}

/** Reference images of the watch-list and their embedded faces (embeddings as float32 LE bytea, as in SQLite). */
export class PgReferenceRepository implements ReferenceRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  async addImage(image: ReferenceImage, faces: readonly ReferenceFace[]): Promise<void> {
    for (const face of faces) {
      if (face.imageId !== image.id || face.personId !== image.personId) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `face ${face.id} does not belong to image ${image.id} of person ${image.personId}`, {
          details: { faceId: face.id, imageId: face.imageId, personId: face.personId },
        });
      }
      if (!(face.embedding instanceof Float32Array)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `face ${face.id}: embedding must be a Float32Array`);
    }
    const action = `adding reference image ${image.id}`;
    await this.#ctx.transaction(
      action,
      async (tx) => {
        // the person's existence is checked by the foreign key (see mapError), which also holds
        // against a delete running at the same time
        await tx.execute('INSERT INTO reference_images (id, person_id, file_name, sha256, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
          image.id,
          image.personId,
          image.fileName,
          image.sha256,
          image.bytes,
          image.createdAt,
        ]);
        for (const f of faces) {
          const box = { x: f.box.x, y: f.box.y, w: f.box.w, h: f.box.h };
          await tx.execute('INSERT INTO reference_faces (id, image_id, person_id, model, embedding, norm, box) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            f.id,
            f.imageId,
            f.personId,
            f.model,
            encodeFloat32(f.embedding),
            f.norm,
            JSON.stringify(box),
          ]);
        }
      },
      {
        mapError: (err) =>
          err instanceof pg.DatabaseError && err.code === '23503' && err.constraint === 'reference_images_person_fk'
            ? new AppError(ErrorCode.PERSON_NOT_FOUND, `person ${image.personId} does not exist`, { cause: err, details: { personId: image.personId } })
            : undefined,
      },
    );
  }

  /** Oldest first (created_at, then file name, then id). */
  async listImages(personId: string): Promise<ReferenceImage[]> {
    const rows = await this.#ctx.query<ImageRow>(
      `listing the reference images of ${personId}`,
      'SELECT id, person_id, file_name, sha256, bytes, created_at FROM reference_images WHERE person_id = $1 ORDER BY created_at, file_name, id',
      [personId],
    );
    return rows.map(toImage);
  }

  async removeImage(imageId: string): Promise<string[]> {
    return this.#ctx.transaction(`removing reference image ${imageId}`, async (tx) => {
      const faces = await tx.query<{ id: string }>('SELECT id FROM reference_faces WHERE image_id = $1 ORDER BY id FOR UPDATE', [imageId]);
      await tx.execute('DELETE FROM reference_images WHERE id = $1', [imageId]);
      return faces.map((f) => f.id);
    });
  }

  /** In the order of `ids`; unknown ids are skipped, repeated ones given once. */
  async facesByIds(ids: readonly string[]): Promise<ReferenceFace[]> {
    if (ids.length === 0) return [];
    const rows = await this.#ctx.query<FaceRow>(
      'reading reference faces',
      `SELECT ${faceColumns}
       FROM (SELECT w.id, min(w.position) AS position FROM unnest($1::text[]) WITH ORDINALITY AS w (id, position) GROUP BY w.id) wanted
       JOIN reference_faces f ON f.id = wanted.id
       ORDER BY wanted.position`,
      [ids],
    );
    return rows.map(toFace);
  }

  /** Every face of one embedding model, in insertion order. */
  async allFaces(model: string): Promise<ReferenceFace[]> {
    const rows = await this.#ctx.query<FaceRow>(`reading the reference faces of ${model}`, `SELECT ${faceColumns} FROM reference_faces f WHERE f.model = $1 ORDER BY f.seq`, [
      model,
    ]);
    return rows.map(toFace);
  }

  /** Ordered by person, then insertion. */
  async facesOfPersons(personIds: readonly string[], model: string): Promise<ReferenceFace[]> {
    if (personIds.length === 0) return [];
    const rows = await this.#ctx.query<FaceRow>(
      'reading the reference faces of people',
      `SELECT ${faceColumns} FROM reference_faces f WHERE f.model = $1 AND f.person_id = ANY($2::text[]) ORDER BY f.person_id, f.seq`,
      [model, personIds],
    );
    return rows.map(toFace);
  }
}
