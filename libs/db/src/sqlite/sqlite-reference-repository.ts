import { AppError, ErrorCode } from '@facewatch/core';
import type { ReferenceFace, ReferenceImage, ReferenceRepository } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { decodeFloat32, encodeFloat32 } from './vector-codec.js';

interface ImageRow {
  id: string;
  person_id: string;
  file_name: string;
  sha256: string;
  bytes: number;
  created_at: string;
}

interface FaceRow {
  id: string;
  image_id: string;
  person_id: string;
  model: string;
  embedding: Buffer;
  norm: number;
  box: string;
}

const faceColumns = 'f.id, f.image_id, f.person_id, f.model, f.embedding, f.norm, f.box';

function toImage(row: ImageRow): ReferenceImage {
  return { id: row.id, personId: row.person_id, fileName: row.file_name, sha256: row.sha256, bytes: row.bytes, createdAt: row.created_at };
}

function toFace(row: FaceRow): ReferenceFace {
  return {
    id: row.id,
    imageId: row.image_id,
    personId: row.person_id,
    model: row.model,
    embedding: decodeFloat32(row.embedding, `embedding of reference face ${row.id}`),
    norm: row.norm,
    box: JSON.parse(row.box) as ReferenceFace['box'],
  };
}

/** Reference images of the watch-list and their embedded faces (embeddings as float32 LE blobs). */
export class SqliteReferenceRepository implements ReferenceRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
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
    this.#ctx.run(`adding reference image ${image.id}`, () => {
      const ctx = this.#ctx;
      ctx.db
        .transaction(() => {
          if (ctx.prepare('SELECT 1 FROM persons WHERE id = ?').pluck().get(image.personId) === undefined) {
            throw new AppError(ErrorCode.PERSON_NOT_FOUND, `person ${image.personId} does not exist`, { details: { personId: image.personId } });
          }
          ctx
            .prepare('INSERT INTO reference_images (id, person_id, file_name, sha256, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)')
            .run(image.id, image.personId, image.fileName, image.sha256, image.bytes, image.createdAt);
          const insertFace = ctx.prepare('INSERT INTO reference_faces (id, image_id, person_id, model, embedding, norm, box) VALUES (?, ?, ?, ?, ?, ?, ?)');
          for (const f of faces) {
            const box = { x: f.box.x, y: f.box.y, w: f.box.w, h: f.box.h };
            insertFace.run(f.id, f.imageId, f.personId, f.model, encodeFloat32(f.embedding), f.norm, JSON.stringify(box));
          }
        })
        .immediate();
    });
  }

  /** Oldest first (created_at, then file name). */
  async listImages(personId: string): Promise<ReferenceImage[]> {
    return this.#ctx.run(`listing the reference images of ${personId}`, () => {
      const rows = this.#ctx
        .prepare('SELECT id, person_id, file_name, sha256, bytes, created_at FROM reference_images WHERE person_id = ? ORDER BY created_at, file_name, id')
        .all(personId) as ImageRow[];
      return rows.map(toImage);
    });
  }

  async removeImage(imageId: string): Promise<string[]> {
    return this.#ctx.run(`removing reference image ${imageId}`, () => {
      const ctx = this.#ctx;
      return ctx.db
        .transaction(() => {
          const faceIds = ctx.prepare('SELECT id FROM reference_faces WHERE image_id = ? ORDER BY id').pluck().all(imageId) as string[];
          ctx.prepare('DELETE FROM reference_images WHERE id = ?').run(imageId);
          return faceIds;
        })
        .immediate();
    });
  }

  /** In the order of `ids`; unknown ids are skipped, repeated ones given once. */
  async facesByIds(ids: readonly string[]): Promise<ReferenceFace[]> {
    if (ids.length === 0) return [];
    return this.#ctx.run('reading reference faces', () => {
      const rows = this.#ctx
        .prepare(
          `SELECT ${faceColumns} FROM (SELECT value AS id, min(key) AS position FROM json_each(?) GROUP BY value) wanted
          JOIN reference_faces f ON f.id = wanted.id ORDER BY wanted.position`,
        )
        .all(JSON.stringify(ids)) as FaceRow[];
      return rows.map(toFace);
    });
  }

  /** Every face of one embedding model, in insertion order. */
  async allFaces(model: string): Promise<ReferenceFace[]> {
    return this.#ctx.run(`reading the reference faces of ${model}`, () => {
      const rows = this.#ctx.prepare(`SELECT ${faceColumns} FROM reference_faces f WHERE f.model = ? ORDER BY f.rowid`).all(model) as FaceRow[];
      return rows.map(toFace);
    });
  }

  /** Ordered by person, then insertion. */
  async facesOfPersons(personIds: readonly string[], model: string): Promise<ReferenceFace[]> {
    if (personIds.length === 0) return [];
    return this.#ctx.run('reading the reference faces of people', () => {
      const rows = this.#ctx
        .prepare(`SELECT ${faceColumns} FROM reference_faces f WHERE f.model = ? AND f.person_id IN (SELECT value FROM json_each(?)) ORDER BY f.person_id, f.rowid`)
        .all(model, JSON.stringify(personIds)) as FaceRow[];
      return rows.map(toFace);
    });
  }
}
