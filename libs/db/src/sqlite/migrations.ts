import type { Database } from 'better-sqlite3';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';

export interface Migration {
  /** Strictly increasing; recorded in schema_migrations once applied. */
  version: number;
  name: string;
  sql: string;
}

/**
 * The SQLite schema, oldest first. A released migration is never edited: change the schema by
 * appending one. Each runs in its own IMMEDIATE transaction together with its schema_migrations row.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'persons, reference images and faces, processed images',
    sql: `
      CREATE TABLE persons (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        reason      TEXT,
        folder      TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE INDEX persons_by_created_at ON persons (created_at, name, id);

      CREATE TABLE reference_images (
        id          TEXT PRIMARY KEY,
        person_id   TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
        file_name   TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        UNIQUE (person_id, file_name)
      );

      -- embedding: float32 little-endian; box: JSON {x, y, w, h}
      CREATE TABLE reference_faces (
        id          TEXT PRIMARY KEY,
        image_id    TEXT NOT NULL REFERENCES reference_images (id) ON DELETE CASCADE,
        person_id   TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
        model       TEXT NOT NULL,
        embedding   BLOB NOT NULL,
        norm        REAL NOT NULL,
        box         TEXT NOT NULL
      );
      CREATE INDEX reference_faces_by_image ON reference_faces (image_id);
      CREATE INDEX reference_faces_by_person ON reference_faces (person_id);
      CREATE INDEX reference_faces_by_model ON reference_faces (model);

      -- processed_at is kept as given (ISO-8601); processed_at_ms (epoch ms) orders and filters, so
      -- timestamps with different offsets or precisions still compare correctly.
      CREATE TABLE processed_images (
        id                 TEXT PRIMARY KEY,
        identifier         TEXT NOT NULL,
        source             TEXT NOT NULL,
        sha256             TEXT,
        stored_image_path  TEXT,
        width              INTEGER,
        height             INTEGER,
        model_name         TEXT NOT NULL,
        detector_backend   TEXT NOT NULL,
        distance_metric    TEXT NOT NULL,
        matched            INTEGER NOT NULL CHECK (matched IN (0, 1)),
        error_code         TEXT,
        error_message      TEXT,
        processed_at       TEXT NOT NULL,
        processed_at_ms    INTEGER NOT NULL,
        face_count         INTEGER NOT NULL
      );
      CREATE INDEX processed_images_newest ON processed_images (processed_at_ms DESC, id);
      CREATE INDEX processed_images_by_matched ON processed_images (matched, processed_at_ms DESC, id);

      -- facial_area: JSON in the API's shape
      CREATE TABLE processed_faces (
        image_id     TEXT NOT NULL REFERENCES processed_images (id) ON DELETE CASCADE,
        face_index   INTEGER NOT NULL,
        facial_area  TEXT NOT NULL,
        confidence   REAL NOT NULL,
        decision     TEXT NOT NULL CHECK (decision IN ('match', 'unknown')),
        PRIMARY KEY (image_id, face_index)
      ) WITHOUT ROWID;

      -- person_id has no foreign key on purpose: the alerts of a deleted person stay.
      CREATE TABLE face_matches (
        image_id    TEXT NOT NULL,
        face_index  INTEGER NOT NULL,
        rank        INTEGER NOT NULL,
        person_id   TEXT NOT NULL,
        name        TEXT NOT NULL,
        identity    TEXT NOT NULL,
        distance    REAL NOT NULL,
        threshold   REAL NOT NULL,
        target_x    REAL NOT NULL,
        target_y    REAL NOT NULL,
        target_w    REAL NOT NULL,
        target_h    REAL NOT NULL,
        source_x    REAL NOT NULL,
        source_y    REAL NOT NULL,
        source_w    REAL NOT NULL,
        source_h    REAL NOT NULL,
        PRIMARY KEY (image_id, face_index, rank),
        FOREIGN KEY (image_id, face_index) REFERENCES processed_faces (image_id, face_index) ON DELETE CASCADE
      ) WITHOUT ROWID;
      CREATE INDEX face_matches_by_person ON face_matches (person_id, image_id);
    `,
  },
  {
    version: 2,
    name: 'vector index entries',
    sql: `
      -- One row per embedding model: its dimension is fixed once the index exists.
      CREATE TABLE vector_indexes (
        model       TEXT PRIMARY KEY,
        dimensions  INTEGER NOT NULL CHECK (dimensions > 0),
        created_at  TEXT NOT NULL
      );
      -- The exact-scan index's own rows (float32 little-endian), loaded into memory on open.
      CREATE TABLE vector_entries (
        model   TEXT NOT NULL REFERENCES vector_indexes (model) ON DELETE CASCADE,
        id      TEXT NOT NULL,
        vector  BLOB NOT NULL,
        UNIQUE (model, id)
      );
    `,
  },
  {
    version: 3,
    name: 'review decisions and decision details',
    // SQLite cannot change a CHECK constraint in place: both face tables are rebuilt (the child
    // first dropped, so dropping the parent cascades nothing) and renamed into place, which also
    // points face_matches' foreign key at the new processed_faces.
    sql: `
      -- details: JSON of the decision (reason, score, confidence, thresholds, gates, quality,
      -- candidates); NULL for faces processed before it existed
      CREATE TABLE processed_faces_new (
        image_id     TEXT NOT NULL REFERENCES processed_images (id) ON DELETE CASCADE,
        face_index   INTEGER NOT NULL,
        facial_area  TEXT NOT NULL,
        confidence   REAL NOT NULL,
        decision     TEXT NOT NULL CHECK (decision IN ('match', 'review', 'unknown')),
        details      TEXT,
        PRIMARY KEY (image_id, face_index)
      ) WITHOUT ROWID;
      INSERT INTO processed_faces_new (image_id, face_index, facial_area, confidence, decision)
        SELECT image_id, face_index, facial_area, confidence, decision FROM processed_faces;
      CREATE TABLE face_matches_new (
        image_id    TEXT NOT NULL,
        face_index  INTEGER NOT NULL,
        rank        INTEGER NOT NULL,
        person_id   TEXT NOT NULL,
        name        TEXT NOT NULL,
        identity    TEXT NOT NULL,
        distance    REAL NOT NULL,
        threshold   REAL NOT NULL,
        target_x    REAL NOT NULL,
        target_y    REAL NOT NULL,
        target_w    REAL NOT NULL,
        target_h    REAL NOT NULL,
        source_x    REAL NOT NULL,
        source_y    REAL NOT NULL,
        source_w    REAL NOT NULL,
        source_h    REAL NOT NULL,
        PRIMARY KEY (image_id, face_index, rank),
        FOREIGN KEY (image_id, face_index) REFERENCES processed_faces_new (image_id, face_index) ON DELETE CASCADE
      ) WITHOUT ROWID;
      INSERT INTO face_matches_new SELECT image_id, face_index, rank, person_id, name, identity, distance, threshold,
        target_x, target_y, target_w, target_h, source_x, source_y, source_w, source_h FROM face_matches;
      DROP TABLE face_matches;
      DROP TABLE processed_faces;
      ALTER TABLE processed_faces_new RENAME TO processed_faces;
      ALTER TABLE face_matches_new RENAME TO face_matches;
      CREATE INDEX face_matches_by_person ON face_matches (person_id, image_id);
      CREATE INDEX processed_faces_by_decision ON processed_faces (decision, image_id);
    `,
  },
  {
    version: 4,
    name: 'alerts with review feedback, face evidence, webhooks and their delivery outbox',
    sql: `
      -- Match and review faces, written with their result. seq orders them (event-stream ids);
      -- embedding (float32 LE) of the probe face: rejected alerts are known strangers;
      -- processed_at: epoch ms (orders, filters), processed_at_text: as given. No foreign key on
      -- image_id: alerts are kept by their own retention, longer than their results may be.
      CREATE TABLE alerts (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        id                  TEXT NOT NULL UNIQUE,
        image_id            TEXT NOT NULL,
        face_index          INTEGER NOT NULL,
        decision            TEXT NOT NULL CHECK (decision IN ('match', 'review')),
        person_id           TEXT NOT NULL,
        name                TEXT NOT NULL,
        score               REAL,
        match_confidence    REAL,
        distance            REAL NOT NULL,
        threshold           REAL,
        decision_reason     TEXT,
        decision_detail     TEXT,
        identity            TEXT NOT NULL,
        reference_image_id  TEXT,
        reference_face_id   TEXT,
        facial_area         TEXT NOT NULL,
        identifier          TEXT NOT NULL,
        processed_at        INTEGER NOT NULL,
        processed_at_text   TEXT NOT NULL,
        model               TEXT NOT NULL,
        embedding           BLOB,
        review_status       TEXT NOT NULL DEFAULT 'pending' CHECK (review_status IN ('pending', 'confirmed', 'rejected')),
        review_note         TEXT,
        reviewed_at         TEXT,
        reviewed_by         TEXT
      );
      CREATE INDEX alerts_by_image ON alerts (image_id, face_index);
      CREATE INDEX alerts_by_person ON alerts (person_id, seq);
      CREATE INDEX alerts_by_review ON alerts (review_status, seq);
      CREATE INDEX alerts_by_decision ON alerts (decision, seq);

      CREATE TABLE face_evidence (
        image_id      TEXT NOT NULL REFERENCES processed_images (id) ON DELETE CASCADE,
        face_index    INTEGER NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('aligned', 'context')),
        content_type  TEXT NOT NULL,
        bytes         BLOB NOT NULL,
        PRIMARY KEY (image_id, face_index, kind)
      ) WITHOUT ROWID;

      -- filters: JSON {decisions: [...], person_ids: [...]}
      CREATE TABLE webhooks (
        id           TEXT PRIMARY KEY,
        url          TEXT NOT NULL,
        secret       TEXT NOT NULL,
        description  TEXT,
        filters      TEXT NOT NULL,
        enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
      );
      -- The outbox: one row per alert and webhook (unique, so a redelivered result adds none).
      CREATE TABLE webhook_deliveries (
        id                  TEXT PRIMARY KEY,
        webhook_id          TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        alert_id            TEXT NOT NULL,
        status              TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts            INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms  INTEGER NOT NULL,
        lease_until_ms      INTEGER NOT NULL DEFAULT 0,
        last_error          TEXT,
        last_status         INTEGER,
        created_at          TEXT NOT NULL,
        delivered_at        TEXT,
        UNIQUE (webhook_id, alert_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at_ms);
      CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);
    `,
  },
  {
    version: 5,
    name: 'audit log (append-only)',
    sql: `
      -- Who did what, when and from where; rows are never changed or removed (the triggers refuse it).
      CREATE TABLE audit_log (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        at           TEXT NOT NULL,
        at_ms        INTEGER NOT NULL,
        actor        TEXT,
        source       TEXT,
        action       TEXT NOT NULL,
        target_type  TEXT,
        target_id    TEXT,
        details      TEXT
      );
      CREATE INDEX audit_log_by_action ON audit_log (action, seq);
      CREATE INDEX audit_log_by_target ON audit_log (target_id, seq);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
];

/**
 * Brings the database up to the newest migration. Safe to run on every open and from two processes
 * at once: each migration checks, applies and records itself inside one IMMEDIATE transaction.
 * Refuses a database whose schema is newer than this build. Returns the versions it applied.
 */
export function migrate(db: Database, log?: Logger, list: readonly Migration[] = migrations): number[] {
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.version <= list[i - 1]!.version) throw new AppError(ErrorCode.INTERNAL, 'migration versions must strictly increase');
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TEXT NOT NULL
  )`);
  const newest = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v;
  const known = list.at(-1)?.version ?? 0;
  if (newest !== null && newest > known) {
    throw new AppError(ErrorCode.DB_UNAVAILABLE, `database schema version ${newest} is newer than this build knows (${known})`, {
      retryable: false,
      details: { schemaVersion: newest, knownVersion: known },
    });
  }
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const apply = db.transaction((m: Migration): boolean => {
    if (isApplied.get(m.version) !== undefined) return false;
    db.exec(m.sql);
    record.run(m.version, m.name, new Date().toISOString());
    return true;
  });
  const applied: number[] = [];
  for (const m of list) {
    if (apply.immediate(m)) {
      applied.push(m.version);
      log?.info({ version: m.version, migration: m.name }, 'migration applied');
    }
  }
  return applied;
}
