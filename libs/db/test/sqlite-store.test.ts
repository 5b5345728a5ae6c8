import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore, type VectorMatch } from '@facewatch/db';
import { bruteForceNearest, faceRecord, matchRecord, processedImage, randomUnitVector, referenceFace, referenceImage, seededRandom } from '@facewatch/db/testing';
import { tempDir } from './helpers.js';

function rawRows<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('SQLite store on a file', () => {
  test('reopening keeps the data and does not run the migrations again', async () => {
    const temp = tempDir();
    const path = join(temp.dir, 'facewatch.db');
    try {
      const first = await openSqliteStore({ path });
      const person = await first.persons.create({ id: 'p1', name: 'Alice', reason: 'test', folder: 'alice' });
      const img = referenceImage('i1', 'p1', '1.jpg');
      const face = referenceFace('f1', img);
      await first.references.addImage(img, [face]);
      const result = processedImage('r1', '2024-05-01T10:00:00.000Z', [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)])]);
      await first.processed.save(result);
      await first.close();

      const migrations = rawRows<{ version: number; name: string; applied_at: string }>(path, 'SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        migrations.map((m) => m.version),
        [1, 2, 3, 4, 5],
      );
      assert.deepEqual(rawRows(path, 'PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);

      const second = await openSqliteStore({ path });
      try {
        assert.deepEqual(await second.persons.get('p1'), { ...person, imageCount: 1 });
        assert.deepEqual(await second.references.facesByIds(['f1']), [face]);
        assert.deepEqual(await second.processed.get('r1'), result);
      } finally {
        await second.close();
      }
      // same rows, same applied_at: nothing was applied again
      assert.deepEqual(rawRows(path, 'SELECT version, name, applied_at FROM schema_migrations ORDER BY version'), migrations);
    } finally {
      temp.remove();
    }
  });

  test('the audit log is append-only: the database itself refuses updates and deletes', async () => {
    const temp = tempDir();
    const path = join(temp.dir, 'facewatch.db');
    try {
      const store = await openSqliteStore({ path });
      await store.audit.append({ at: new Date().toISOString(), actor: 'desk', source: 'test', action: 'person.create', target_type: 'person', target_id: 'p1', details: null });
      await store.close();
      const db = new Database(path);
      try {
        assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'someone else'").run(), /append-only/);
        assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);
        assert.equal(db.prepare('SELECT actor FROM audit_log').pluck().get(), 'desk');
      } finally {
        db.close();
      }
    } finally {
      temp.remove();
    }
  });

  test('the exact vector index is rebuilt from disk on reopen (after upserts, replacements and removals)', async () => {
    const temp = tempDir();
    const path = join(temp.dir, 'vectors.db');
    try {
      const random = seededRandom(7);
      const live = new Map<string, Float32Array>();
      const first = await openSqliteStore({ path });
      const index = await first.vectorIndex('fr_feature', 16);
      const items = Array.from({ length: 300 }, (_, i) => ({ id: `v${i}`, vector: randomUnitVector(random, 16) }));
      await index.upsert(items);
      for (const { id, vector } of items) live.set(id, vector);
      // removals in the middle move the last rows into the holes
      const removed = items.filter((_, i) => i % 6 === 0).map((item) => item.id);
      await index.remove(removed);
      for (const id of removed) live.delete(id);
      const replaced = items.filter((_, i) => i % 15 === 1).map((item) => ({ id: item.id, vector: randomUnitVector(random, 16) }));
      await index.upsert(replaced);
      for (const { id, vector } of replaced) live.set(id, vector);
      // one more unrelated model in the same file
      await (await first.vectorIndex('other', 3)).upsert([{ id: 'v1', vector: new Float32Array([0, 0, 1]) }]);

      const queries = Array.from({ length: 6 }, () => randomUnitVector(random, 16));
      const before: VectorMatch[][] = [];
      for (const q of queries) before.push(await index.search(q, 8));
      assert.equal(await index.count(), 250);
      await first.close();

      const second = await openSqliteStore({ path });
      try {
        const rebuilt = await second.vectorIndex('fr_feature', 16);
        assert.equal(await rebuilt.count(), 250);
        const liveItems = [...live].map(([id, vector]) => ({ id, vector }));
        for (const [i, q] of queries.entries()) {
          const after = await rebuilt.search(q, 8);
          assert.deepEqual(after, before[i], `query ${i} answers as before the reopen`);
          const reference = bruteForceNearest(liveItems, q, 8);
          assert.deepEqual(
            after.map((m) => m.id),
            reference.map((m) => m.id),
          );
          after.forEach((m, j) => assert.ok(Math.abs(m.distance - reference[j]!.distance) < 1e-6));
        }
        for (const id of removed) assert.ok(!before.flat().some((m) => m.id === id), `${id} stays removed`);
        assert.equal(await (await second.vectorIndex('other', 3)).count(), 1);
        // the dimension of a model is stored with its index
        await assert.rejects(second.vectorIndex('fr_feature', 32), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      } finally {
        await second.close();
      }
      assert.deepEqual(rawRows(path, 'SELECT model, count(*) AS n FROM vector_entries GROUP BY model ORDER BY model'), [
        { model: 'fr_feature', n: 250 },
        { model: 'other', n: 1 },
      ]);
    } finally {
      temp.remove();
    }
  });

  test('a write blocked by another connection fails with DB_UNAVAILABLE (retryable) and changes nothing', async () => {
    const temp = tempDir();
    const path = join(temp.dir, 'locked.db');
    const store = await openSqliteStore({ path, busyTimeoutMs: 50 });
    const other = new Database(path);
    try {
      const index = await store.vectorIndex('fr_feature', 3);
      await index.upsert([{ id: 'a', vector: new Float32Array([1, 0, 0]) }]);
      other.exec('BEGIN IMMEDIATE'); // holds the write lock
      await assert.rejects(store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' }), {
        name: 'AppError',
        code: 'DB_UNAVAILABLE',
        retryable: true,
      });
      await assert.rejects(index.upsert([{ id: 'b', vector: new Float32Array([0, 1, 0]) }]), { code: 'DB_UNAVAILABLE', retryable: true });
      await assert.rejects(index.remove(['a']), { code: 'DB_UNAVAILABLE', retryable: true });
      // the memory copy did not move ahead of the file
      assert.equal(await index.count(), 1);
      assert.deepEqual(
        (await index.search(new Float32Array([0, 1, 0]), 5)).map((m) => m.id),
        ['a'],
      );
      // reads still work in WAL mode while another connection writes
      assert.equal((await store.persons.list()).total, 0);
      other.exec('ROLLBACK');
      await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
      assert.equal((await store.persons.list()).total, 1);
    } finally {
      other.close();
      await store.close();
      temp.remove();
    }
  });

  test('a closed store rejects with DB_UNAVAILABLE (not retryable); close is idempotent', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const index = await store.vectorIndex('fr_feature', 3);
    await store.close();
    await store.close();
    await assert.rejects(store.ping(), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: false });
    await assert.rejects(store.persons.get('p1'), { code: 'DB_UNAVAILABLE' });
    await assert.rejects(index.search(new Float32Array([1, 0, 0]), 1), { code: 'DB_UNAVAILABLE' });
  });

  test('a database with a newer schema, a folder, or a file that is not SQLite is refused with DB_UNAVAILABLE', async () => {
    const temp = tempDir();
    try {
      const path = join(temp.dir, 'newer.db');
      await (await openSqliteStore({ path })).close();
      const db = new Database(path);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', '2030-01-01T00:00:00.000Z')").run();
      db.close();
      await assert.rejects(openSqliteStore({ path }), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: false, details: { schemaVersion: 99, knownVersion: 5 } });

      await assert.rejects(openSqliteStore({ path: temp.dir }), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: false });

      const garbage = join(temp.dir, 'garbage.db');
      writeFileSync(garbage, Buffer.alloc(4096, 7));
      await assert.rejects(openSqliteStore({ path: garbage }), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: false });
    } finally {
      temp.remove();
    }
  });

  test('vectors that are not finite or all zero, and k that is not a positive integer, are INVALID_ARGUMENT', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      const index = await store.vectorIndex('fr_feature', 3);
      await assert.rejects(index.upsert([{ id: 'zero', vector: new Float32Array(3) }]), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.upsert([{ id: 'nan', vector: new Float32Array([1, Number.NaN, 0]) }]), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.upsert([{ id: '', vector: new Float32Array([1, 0, 0]) }]), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.search(new Float32Array([1, 0, 0]), 0), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.search(new Float32Array([1, 0, 0]), 1.5), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(store.vectorIndex('bad', 0), { code: 'INVALID_ARGUMENT' });
      assert.equal(await index.count(), 0);
      // vectors need not be unit length: the cosine distance ignores length
      await index.upsert([{ id: 'long', vector: new Float32Array([3, 4, 0]) }]);
      const [match] = await index.search(new Float32Array([0.6, 0.8, 0]), 1);
      assert.equal(match?.id, 'long');
      assert.ok(Math.abs(match.distance) < 1e-6);
    } finally {
      await store.close();
    }
  });
});
