import type { Person, PersonRepository } from '../types.js';
import { paging } from '../sqlite/paging.js';
import type { PgContext } from './pg-context.js';

interface PersonRow {
  id: string;
  name: string;
  reason: string | null;
  folder: string;
  created_at: Date;
  updated_at: Date;
  image_count: number;
}

const selectPerson = `SELECT p.id, p.name, p.reason, p.folder, p.created_at, p.updated_at,
  (SELECT count(*) FROM reference_images i WHERE i.person_id = p.id)::integer AS image_count
  FROM persons p`;

function toPerson(row: PersonRow): Person {
  return {
    id: row.id,
    name: row.name,
    reason: row.reason,
    folder: row.folder,
    imageCount: row.image_count,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Persons of the watch-list; imageCount counts their reference images. Timestamps are made here
 * (millisecond ISO-8601, as SQLite) and stored as timestamptz, which gives them back unchanged.
 */
export class PgPersonRepository implements PersonRepository {
  readonly #ctx: PgContext;

  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  async create(input: { id: string; name: string; reason: string | null; folder: string }): Promise<Person> {
    const now = new Date();
    await this.#ctx.query(`creating person ${input.id}`, 'INSERT INTO persons (id, name, reason, folder, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)', [
      input.id,
      input.name,
      input.reason,
      input.folder,
      now,
    ]);
    const iso = now.toISOString();
    return { id: input.id, name: input.name, reason: input.reason, folder: input.folder, imageCount: 0, createdAt: iso, updatedAt: iso };
  }

  async get(id: string): Promise<Person | undefined> {
    const [row] = await this.#ctx.query<PersonRow>(`reading person ${id}`, `${selectPerson} WHERE p.id = $1`, [id]);
    return row && toPerson(row);
  }

  async getByFolder(folder: string): Promise<Person | undefined> {
    const [row] = await this.#ctx.query<PersonRow>(`reading the person of folder ${folder}`, `${selectPerson} WHERE p.folder = $1`, [folder]);
    return row && toPerson(row);
  }

  /** Oldest first (created_at, then name, then id); without a limit, every person. */
  async list(options: { offset?: number; limit?: number } = {}): Promise<{ total: number; items: Person[] }> {
    const { offset, limit } = paging(options);
    return this.#ctx.transaction(
      'listing persons',
      async (tx) => {
        const [counted] = await tx.query<{ total: number }>('SELECT count(*)::integer AS total FROM persons');
        const rows = await tx.query<PersonRow>(`${selectPerson} ORDER BY p.created_at, p.name, p.id LIMIT $1 OFFSET $2`, [limit < 0 ? null : limit, offset]);
        return { total: counted?.total ?? 0, items: rows.map(toPerson) };
      },
      { snapshot: true },
    );
  }

  async update(id: string, changes: { name?: string; reason?: string | null }): Promise<Person | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    if (changes.name !== undefined) {
      params.push(changes.name);
      sets.push(`name = $${params.length}`);
    }
    if (changes.reason !== undefined) {
      params.push(changes.reason);
      sets.push(`reason = $${params.length}`);
    }
    if (sets.length === 0) return this.get(id);
    params.push(new Date());
    const [row] = await this.#ctx.query<PersonRow>(
      `updating person ${id}`,
      `WITH p AS (UPDATE persons SET ${sets.join(', ')}, updated_at = $${params.length} WHERE id = $1 RETURNING *)
       SELECT p.id, p.name, p.reason, p.folder, p.created_at, p.updated_at,
         (SELECT count(*) FROM reference_images i WHERE i.person_id = p.id)::integer AS image_count
       FROM p`,
      params,
    );
    return row && toPerson(row);
  }

  async delete(id: string): Promise<{ deleted: boolean; faceIds: string[] }> {
    return this.#ctx.transaction(`deleting person ${id}`, async (tx) => {
      // Lock the person first: an addImage racing with the delete then waits on its foreign key and
      // fails with PERSON_NOT_FOUND, so the face ids read next are all the cascade removes.
      const locked = await tx.query('SELECT 1 FROM persons WHERE id = $1 FOR UPDATE', [id]);
      if (locked.length === 0) return { deleted: false, faceIds: [] };
      const faces = await tx.query<{ id: string }>('SELECT id FROM reference_faces WHERE person_id = $1 ORDER BY id', [id]);
      await tx.execute('DELETE FROM persons WHERE id = $1', [id]);
      return { deleted: true, faceIds: faces.map((f) => f.id) };
    });
  }
}
