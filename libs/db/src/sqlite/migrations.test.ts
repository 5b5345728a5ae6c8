import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate, migrations } from './migrations.js';

describe('migrations', () => {
  test('versions strictly increase from 1', () => {
    assert.deepEqual(
      migrations.map((m) => m.version),
      migrations.map((_, i) => i + 1),
    );
  });

  test('applies every migration once, in order, and nothing on a second run (in-memory database)', () => {
    const db = new Database(':memory:');
    try {
      assert.deepEqual(migrate(db), [1, 2, 3, 4, 5]);
      assert.deepEqual(migrate(db), []);
      const extra = [...migrations, { version: 6, name: 'extra', sql: 'CREATE TABLE extra (x INTEGER)' }];
      assert.deepEqual(migrate(db, undefined, extra), [6]);
      assert.deepEqual(
        db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(),
        extra.map(({ version, name }) => ({ version, name })),
      );
    } finally {
      db.close();
    }
  });

  test('version 3 keeps the faces and matches stored before it, and their cascade', () => {
    const db = new Database(':memory:');
    try {
      db.pragma('foreign_keys = ON');
      assert.deepEqual(migrate(db, undefined, migrations.slice(0, 2)), [1, 2]);
      db.exec(`INSERT INTO processed_images (id, identifier, source, model_name, detector_backend, distance_metric, matched, processed_at, processed_at_ms, face_count)
        VALUES ('r1', 'a.jpg', 'api', 'fr_feature', 'yunet', 'cosine', 1, '2026-01-01T00:00:00Z', 0, 2);
        INSERT INTO processed_faces (image_id, face_index, facial_area, confidence, decision) VALUES ('r1', 0, '{}', 0.9, 'match'), ('r1', 1, '{}', 0.8, 'unknown');
        INSERT INTO face_matches VALUES ('r1', 0, 0, 'p1', 'Alice', 'blacklist_db/alice/1.jpg', 0.3, 0.63, 1, 2, 3, 4, 5, 6, 7, 8);`);
      assert.deepEqual(migrate(db), [3, 4, 5]);
      assert.deepEqual(db.prepare('SELECT face_index, decision, details FROM processed_faces ORDER BY face_index').all(), [
        { face_index: 0, decision: 'match', details: null },
        { face_index: 1, decision: 'unknown', details: null },
      ]);
      assert.deepEqual(db.prepare('SELECT image_id, face_index, person_id, distance FROM face_matches').all(), [{ image_id: 'r1', face_index: 0, person_id: 'p1', distance: 0.3 }]);
      db.prepare("INSERT INTO processed_faces (image_id, face_index, facial_area, confidence, decision) VALUES ('r1', 2, '{}', 0.7, 'review')").run();
      assert.throws(() => db.prepare("INSERT INTO processed_faces (image_id, face_index, facial_area, confidence, decision) VALUES ('r1', 3, '{}', 0.7, 'maybe')").run(), /CHECK/);
      // the matches still hang off their face: deleting the image removes all of it
      db.prepare("DELETE FROM processed_images WHERE id = 'r1'").run();
      assert.equal(db.prepare('SELECT count(*) FROM processed_faces').pluck().get(), 0);
      assert.equal(db.prepare('SELECT count(*) FROM face_matches').pluck().get(), 0);
      assert.deepEqual(db.prepare('PRAGMA foreign_key_check').all(), []);
    } finally {
      db.close();
    }
  });

  test('a failing migration leaves neither its changes nor its record', () => {
    const db = new Database(':memory:');
    try {
      const broken = [...migrations, { version: 6, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table' }];
      assert.throws(() => migrate(db, undefined, broken), /no such table/);
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
      assert.equal(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 5);
    } finally {
      db.close();
    }
  });

  test('out-of-order versions are refused', () => {
    const db = new Database(':memory:');
    try {
      assert.throws(() => migrate(db, undefined, [migrations[1]!, migrations[0]!]), { name: 'AppError', code: 'INTERNAL' });
    } finally {
      db.close();
    }
  });
});
