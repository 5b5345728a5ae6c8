import type { Person, PersonRepository } from '../types.js';
import { paging } from './paging.js';
import type { SqliteContext } from './sqlite-context.js';

interface PersonRow {
  id: string;
  name: string;
  reason: string | null;
  folder: string;
  created_at: string;
  updated_at: string;
  image_count: number;
}

const selectPerson = `SELECT p.id, p.name, p.reason, p.folder, p.created_at, p.updated_at,
  (SELECT count(*) FROM reference_images i WHERE i.person_id = p.id) AS image_count
  FROM persons p`;

function toPerson(row: PersonRow): Person {
  return {
    id: row.id,
    name: row.name,
    reason: row.reason,
    folder: row.folder,
    imageCount: row.image_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Persons of the watch-list; imageCount counts their reference images. */
export class SqlitePersonRepository implements PersonRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async create(input: { id: string; name: string; reason: string | null; folder: string }): Promise<Person> {
    return this.#ctx.run(`creating person ${input.id}`, () => {
      const now = new Date().toISOString();
      this.#ctx
        .prepare('INSERT INTO persons (id, name, reason, folder, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(input.id, input.name, input.reason, input.folder, now, now);
      return { id: input.id, name: input.name, reason: input.reason, folder: input.folder, imageCount: 0, createdAt: now, updatedAt: now };
    });
  }

  async get(id: string): Promise<Person | undefined> {
    return this.#ctx.run(`reading person ${id}`, () => this.#get(id));
  }

  async getByFolder(folder: string): Promise<Person | undefined> {
    return this.#ctx.run(`reading the person of folder ${folder}`, () => {
      const row = this.#ctx.prepare(`${selectPerson} WHERE p.folder = ?`).get(folder) as PersonRow | undefined;
      return row && toPerson(row);
    });
  }

  /** Oldest first (created_at, then name); without a limit, every person. */
  async list(options: { offset?: number; limit?: number } = {}): Promise<{ total: number; items: Person[] }> {
    const { offset, limit } = paging(options);
    return this.#ctx.run('listing persons', () => {
      const { db } = this.#ctx;
      return db.transaction(() => {
        const total = this.#ctx.prepare('SELECT count(*) FROM persons').pluck().get() as number;
        const rows = this.#ctx.prepare(`${selectPerson} ORDER BY p.created_at, p.name, p.id LIMIT ? OFFSET ?`).all(limit, offset) as PersonRow[];
        return { total, items: rows.map(toPerson) };
      })();
    });
  }

  async update(id: string, changes: { name?: string; reason?: string | null }): Promise<Person | undefined> {
    return this.#ctx.run(`updating person ${id}`, () => {
      const sets: string[] = [];
      const params: unknown[] = [];
      if (changes.name !== undefined) {
        sets.push('name = ?');
        params.push(changes.name);
      }
      if (changes.reason !== undefined) {
        sets.push('reason = ?');
        params.push(changes.reason);
      }
      const { db } = this.#ctx;
      return db.transaction(() => {
        if (sets.length > 0) {
          this.#ctx.prepare(`UPDATE persons SET ${sets.join(', ')}, updated_at = ? WHERE id = ?`).run(...params, new Date().toISOString(), id);
        }
        return this.#get(id);
      })();
    });
  }

  async delete(id: string): Promise<{ deleted: boolean; faceIds: string[] }> {
    return this.#ctx.run(`deleting person ${id}`, () => {
      const { db } = this.#ctx;
      return db
        .transaction(() => {
          // collected before the cascade removes them
          const faceIds = this.#ctx.prepare('SELECT id FROM reference_faces WHERE person_id = ? ORDER BY id').pluck().all(id) as string[];
          const deleted = this.#ctx.prepare('DELETE FROM persons WHERE id = ?').run(id).changes > 0;
          return { deleted, faceIds };
        })
        .immediate();
    });
  }

  #get(id: string): Person | undefined {
    const row = this.#ctx.prepare(`${selectPerson} WHERE p.id = ?`).get(id) as PersonRow | undefined;
    return row && toPerson(row);
  }
}
