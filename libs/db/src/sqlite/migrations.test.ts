import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate, migrations } from './migrations.js';

describe('migrations', () => {
  test('versions strictly increase from 1', () => {
    assert.deepEqual(migrations.map((m) => m.version), migrations.map((_, i) => i + 1));
  });

  test('applies every migration once, in order, and nothing on a second run (in-memory database)', () => {
    const db = new Database(':memory:');
    try {
      assert.deepEqual(migrate(db), [1, 2]);
      assert.deepEqual(migrate(db), []);
      const extra = [...migrations, { version: 3, name: 'extra', sql: 'CREATE TABLE extra (x INTEGER)' }];
      assert.deepEqual(migrate(db, undefined, extra), [3]);
      assert.deepEqual(db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(), extra.map(({ version, name }) => ({ version, name })));
    } finally {
      db.close();
    }
  });

  test('a failing migration leaves neither its changes nor its record', () => {
    const db = new Database(':memory:');
    try {
      const broken = [...migrations, { version: 3, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table' }];
      assert.throws(() => migrate(db, undefined, broken), /no such table/);
      assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
      assert.equal(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 2);
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
