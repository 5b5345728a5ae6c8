import pg from 'pg';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';

export interface PgMigration {
  /** Strictly increasing; recorded in schema_migrations once applied. */
  version: number;
  name: string;
  sql: string;
}

/**
 * Key of the transaction-scoped advisory lock every store takes while it creates the extension,
 * the schema and the tables: processes starting at once wait for each other instead of racing on
 * CREATE statements. One key per database (not per schema), because CREATE EXTENSION is per database.
 */
export const migrationLockKey = 7_046_373_001n;

/**
 * The PostgreSQL schema, oldest first, equivalent to the SQLite one (src/sqlite/migrations.ts).
 * A released migration is never edited: change the schema by appending one. Identifiers and the
 * text columns that order results use COLLATE "C", so ordering and uniqueness are byte-wise as in
 * SQLite (BINARY) whatever the database's locale. The vector entries live in one table per
 * embedding model, created on demand (pgvector-index.ts), listed in vector_indexes.
 */
export const pgMigrations: readonly PgMigration[] = [
  {
    version: 1,
    name: 'persons, reference images and faces, processed images',
    sql: `
      CREATE TABLE persons (
        id          text COLLATE "C" PRIMARY KEY,
        name        text COLLATE "C" NOT NULL,
        reason      text,
        folder      text COLLATE "C" NOT NULL UNIQUE,
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL
      );
      CREATE INDEX persons_by_created_at ON persons (created_at, name, id);

      -- created_at is kept as given (the caller's ISO-8601 text), like SQLite
      CREATE TABLE reference_images (
        id          text COLLATE "C" PRIMARY KEY,
        person_id   text COLLATE "C" NOT NULL CONSTRAINT reference_images_person_fk REFERENCES persons (id) ON DELETE CASCADE,
        file_name   text COLLATE "C" NOT NULL,
        sha256      text NOT NULL,
        bytes       bigint NOT NULL,
        created_at  text COLLATE "C" NOT NULL,
        UNIQUE (person_id, file_name)
      );

      -- embedding: float32 little-endian as in SQLite; box: JSON {x, y, w, h}; seq: insertion order
      CREATE TABLE reference_faces (
        id          text COLLATE "C" PRIMARY KEY,
        image_id    text COLLATE "C" NOT NULL REFERENCES reference_images (id) ON DELETE CASCADE,
        person_id   text COLLATE "C" NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
        model       text COLLATE "C" NOT NULL,
        embedding   bytea NOT NULL,
        norm        double precision NOT NULL,
        box         json NOT NULL,
        seq         bigint GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX reference_faces_by_image ON reference_faces (image_id);
      CREATE INDEX reference_faces_by_person ON reference_faces (person_id);
      CREATE INDEX reference_faces_by_model ON reference_faces (model, seq);

      -- processed_at orders and filters (epoch ms of the given text, as SQLite's processed_at_ms);
      -- processed_at_text is the given ISO-8601 text, returned unchanged.
      CREATE TABLE processed_images (
        id                 text COLLATE "C" PRIMARY KEY,
        identifier         text NOT NULL,
        source             text NOT NULL,
        sha256             text,
        stored_image_path  text,
        width              integer,
        height             integer,
        model_name         text NOT NULL,
        detector_backend   text NOT NULL,
        distance_metric    text NOT NULL,
        matched            boolean NOT NULL,
        error_code         text,
        error_message      text,
        processed_at       timestamptz NOT NULL,
        processed_at_text  text NOT NULL,
        face_count         integer NOT NULL
      );
      CREATE INDEX processed_images_newest ON processed_images (processed_at DESC, id);
      CREATE INDEX processed_images_by_matched ON processed_images (matched, processed_at DESC, id);

      -- facial_area: JSON in the API's shape (json, not jsonb, keeps its key order)
      CREATE TABLE processed_faces (
        image_id     text COLLATE "C" NOT NULL REFERENCES processed_images (id) ON DELETE CASCADE,
        face_index   integer NOT NULL,
        facial_area  json NOT NULL,
        confidence   double precision NOT NULL,
        decision     text NOT NULL CHECK (decision IN ('match', 'unknown')),
        PRIMARY KEY (image_id, face_index)
      );

      -- person_id has no foreign key on purpose: the alerts of a deleted person stay.
      CREATE TABLE face_matches (
        image_id    text COLLATE "C" NOT NULL,
        face_index  integer NOT NULL,
        rank        integer NOT NULL,
        person_id   text COLLATE "C" NOT NULL,
        name        text NOT NULL,
        identity    text NOT NULL,
        distance    double precision NOT NULL,
        threshold   double precision NOT NULL,
        target_x    double precision NOT NULL,
        target_y    double precision NOT NULL,
        target_w    double precision NOT NULL,
        target_h    double precision NOT NULL,
        source_x    double precision NOT NULL,
        source_y    double precision NOT NULL,
        source_w    double precision NOT NULL,
        source_h    double precision NOT NULL,
        PRIMARY KEY (image_id, face_index, rank),
        FOREIGN KEY (image_id, face_index) REFERENCES processed_faces (image_id, face_index) ON DELETE CASCADE
      );
      CREATE INDEX face_matches_by_person ON face_matches (person_id, image_id);
    `,
  },
  {
    version: 2,
    name: 'vector indexes',
    sql: `
      -- One row per embedding model: its dimension is fixed once the index exists; its vectors live
      -- in the table vector_entries_<id> (id text, embedding vector(dimensions)) with an HNSW index.
      CREATE TABLE vector_indexes (
        id          integer GENERATED ALWAYS AS IDENTITY UNIQUE,
        model       text COLLATE "C" PRIMARY KEY,
        dimensions  integer NOT NULL CHECK (dimensions > 0),
        created_at  timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 3,
    name: 'review decisions and decision details',
    sql: `
      ALTER TABLE processed_faces DROP CONSTRAINT processed_faces_decision_check;
      ALTER TABLE processed_faces ADD CONSTRAINT processed_faces_decision_check CHECK (decision IN ('match', 'review', 'unknown'));
      -- the decision's reason, score, confidence, thresholds, gates, quality and candidates; NULL before it existed
      ALTER TABLE processed_faces ADD COLUMN details jsonb;
      CREATE INDEX processed_faces_by_decision ON processed_faces (decision, image_id);
    `,
  },
  {
    version: 4,
    name: 'alerts with review feedback, face evidence, webhooks and their delivery outbox',
    sql: `
      -- Match and review faces, written with their result. seq orders them (event-stream ids);
      -- embedding (float32 LE) of the probe face: rejected alerts are known strangers. No foreign
      -- key on image_id: alerts are kept by their own retention, longer than their results may be.
      CREATE TABLE alerts (
        seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id                  text COLLATE "C" NOT NULL UNIQUE,
        image_id            text COLLATE "C" NOT NULL,
        face_index          integer NOT NULL,
        decision            text NOT NULL CHECK (decision IN ('match', 'review')),
        person_id           text COLLATE "C" NOT NULL,
        name                text NOT NULL,
        score               double precision,
        match_confidence    double precision,
        distance            double precision NOT NULL,
        threshold           double precision,
        decision_reason     text,
        decision_detail     text,
        identity            text NOT NULL,
        reference_image_id  text,
        reference_face_id   text,
        facial_area         json NOT NULL,
        identifier          text NOT NULL,
        processed_at        timestamptz NOT NULL,
        processed_at_text   text NOT NULL,
        model               text NOT NULL,
        embedding           bytea,
        review_status       text NOT NULL DEFAULT 'pending' CHECK (review_status IN ('pending', 'confirmed', 'rejected')),
        review_note         text,
        reviewed_at         text,
        reviewed_by         text
      );
      CREATE INDEX alerts_by_image ON alerts (image_id, face_index);
      CREATE INDEX alerts_by_person ON alerts (person_id, seq);
      CREATE INDEX alerts_by_review ON alerts (review_status, seq);
      CREATE INDEX alerts_by_decision ON alerts (decision, seq);

      CREATE TABLE face_evidence (
        image_id      text COLLATE "C" NOT NULL REFERENCES processed_images (id) ON DELETE CASCADE,
        face_index    integer NOT NULL,
        kind          text NOT NULL CHECK (kind IN ('aligned', 'context')),
        content_type  text NOT NULL,
        bytes         bytea NOT NULL,
        PRIMARY KEY (image_id, face_index, kind)
      );

      CREATE TABLE webhooks (
        id           text COLLATE "C" PRIMARY KEY,
        url          text NOT NULL,
        secret       text NOT NULL,
        description  text,
        filters      jsonb NOT NULL,
        enabled      boolean NOT NULL,
        created_at   text NOT NULL,
        updated_at   text NOT NULL
      );
      -- The outbox: one row per alert and webhook (unique, so a redelivered result adds none).
      CREATE TABLE webhook_deliveries (
        id                  text COLLATE "C" PRIMARY KEY,
        webhook_id          text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        alert_id            text COLLATE "C" NOT NULL,
        status              text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts            integer NOT NULL DEFAULT 0,
        next_attempt_at_ms  bigint NOT NULL,
        lease_until_ms      bigint NOT NULL DEFAULT 0,
        last_error          text,
        last_status         integer,
        created_at          text NOT NULL,
        delivered_at        text,
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
      -- Who did what, when and from where; rows are never changed or removed (the trigger refuses it).
      CREATE TABLE audit_log (
        seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at           text NOT NULL,
        at_ms        bigint NOT NULL,
        actor        text,
        source       text,
        action       text NOT NULL,
        target_type  text,
        target_id    text,
        details      jsonb
      );
      CREATE INDEX audit_log_by_action ON audit_log (action, seq);
      CREATE INDEX audit_log_by_target ON audit_log (target_id, seq);
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    `,
  },
];

export interface MigrationResult {
  /** Versions applied by this call (empty when the schema was current). */
  applied: number[];
  /** The schema holding the pgvector extension (its type and operators), for search_path. */
  extensionSchema: string;
}

/**
 * Brings `schema` up to the newest migration in ONE transaction that holds the advisory lock
 * {@link migrationLockKey}: creates the pgvector extension if the database lacks it, the schema if
 * missing, schema_migrations, then every migration not yet recorded. Processes starting at once
 * queue on the lock, and the later ones find everything applied. Safe to run on every open.
 * Refuses a schema newer than this build (DB_UNAVAILABLE, not retryable). `client` must not be in a
 * transaction; its session settings are left as they were (SET LOCAL only).
 */
export async function migratePostgres(client: pg.ClientBase, schema: string, log?: Logger, list: readonly PgMigration[] = pgMigrations): Promise<MigrationResult> {
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.version <= list[i - 1]!.version) throw new AppError(ErrorCode.INTERNAL, 'migration versions must strictly increase');
  }
  const q = pg.escapeIdentifier;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey.toString()]);
    // Existence is checked first: CREATE ... IF NOT EXISTS still needs the privilege to create,
    // which a production role that finds everything in place may not have.
    let extensionSchema = await findExtensionSchema(client);
    if (extensionSchema === undefined) {
      await client.query('CREATE EXTENSION IF NOT EXISTS vector');
      extensionSchema = await findExtensionSchema(client);
      if (extensionSchema === undefined) throw new AppError(ErrorCode.INTERNAL, 'the vector extension was created but cannot be found');
      log?.info({ extensionSchema }, 'pgvector extension created');
    }
    const schemaExists = (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
    if (!schemaExists) await client.query(`CREATE SCHEMA ${q(schema)}`);
    await client.query(`SET LOCAL search_path TO ${searchPath(schema, extensionSchema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version     integer PRIMARY KEY,
      name        text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const newest = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')).rows[0]?.v ?? null;
    const known = list.at(-1)?.version ?? 0;
    if (newest !== null && newest > known) {
      throw new AppError(ErrorCode.DB_UNAVAILABLE, `database schema ${schema} is at version ${newest}, newer than this build knows (${known})`, {
        retryable: false,
        details: { schema, schemaVersion: newest, knownVersion: known },
      });
    }
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of list) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
      log?.info({ schema, version: m.version, migration: m.name }, 'migration applied');
    }
    await client.query('COMMIT');
    return { applied, extensionSchema };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

async function findExtensionSchema(client: pg.ClientBase): Promise<string | undefined> {
  const { rows } = await client.query<{ nspname: string }>("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'");
  return rows[0]?.nspname;
}

/** The store's schema first (tables), then the extension's (the vector type and its operators). */
export function searchPath(schema: string, extensionSchema: string): string {
  const q = pg.escapeIdentifier;
  return schema === extensionSchema ? q(schema) : `${q(schema)}, ${q(extensionSchema)}`;
}
