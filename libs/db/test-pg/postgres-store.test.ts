import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { openPostgresStore, type AnnBuildProgress, type AnnIndexDescription, type Store } from '@facewatch/db';
import { bruteForceNearest, faceRecord, matchRecord, noisyUnitVector, processedImage, randomUnitVector, referenceFace, referenceImage, seededRandom } from '@facewatch/db/testing';
import { TcpRelay, databaseUrl, dropSchema, uniqueSchema, urlVia, withAdmin } from './helpers.js';

const q = pg.escapeIdentifier;

/** Opens a store on a new schema; `done` closes it and drops the schema. */
async function freshStore(
  label: string,
  options: { efSearch?: number; poolSize?: number; annIndex?: AnnIndexDescription } = {},
): Promise<{ store: Store; schema: string; done(): Promise<void> }> {
  const schema = uniqueSchema(label);
  const store = await openPostgresStore({ connectionString: databaseUrl(), schema, ...options });
  return {
    store,
    schema,
    done: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}

async function vectorTable(schema: string, model: string): Promise<string> {
  const { rows } = await withAdmin((c) => c.query<{ id: number }>(`SELECT id FROM ${q(schema)}.vector_indexes WHERE model = $1`, [model]));
  assert.equal(rows.length, 1, `${model} is registered`);
  return `${q(schema)}.${q(`vector_entries_${rows[0]!.id}`)}`;
}

const toText = (v: Float32Array): string => `[${Array.from(v).join(',')}]`;

/** pgvector's own defaults: the float32 HNSW index the tests that read its query plans are about. */
const vectorIndex16x64: AnnIndexDescription = { storage: 'vector', m: 16, efConstruction: 64 };

describe('PostgreSQL store', () => {
  test('the server answers and has pgvector', async () => {
    const { rows } = await withAdmin((c) => c.query<{ version: string }>("SELECT default_version AS version FROM pg_available_extensions WHERE name = 'vector'"));
    assert.equal(rows.length, 1, 'the vector extension is available on the server');
  });

  test('two stores on one database with different schemas are isolated', async () => {
    const a = await freshStore('iso_a');
    const b = await freshStore('iso_b');
    try {
      await a.store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
      await b.store.persons.create({ id: 'p1', name: 'Other Alice', reason: null, folder: 'alice' }); // same id and folder: no clash
      assert.equal((await a.store.persons.get('p1'))?.name, 'Alice');
      assert.equal((await b.store.persons.get('p1'))?.name, 'Other Alice');
      await a.store.processed.save(processedImage('r1', '2024-05-01T10:00:00.000Z', [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)])]));
      assert.equal((await a.store.processed.list({})).total_items, 1);
      assert.equal((await b.store.processed.list({})).total_items, 0);
      // the same model name with another dimension in each schema
      const va = await a.store.vectorIndex('fr_feature', 3);
      const vb = await b.store.vectorIndex('fr_feature', 4);
      await va.upsert([{ id: 'x', vector: new Float32Array([1, 0, 0]) }]);
      assert.equal(await va.count(), 1);
      assert.equal(await vb.count(), 0);
      assert.deepEqual(await vb.search(new Float32Array([1, 0, 0, 0]), 5), []);
      const tables = await withAdmin((c) =>
        c.query<{ schema: string; n: number }>(
          'SELECT table_schema AS schema, count(*)::integer AS n FROM information_schema.tables WHERE table_schema = ANY($1) GROUP BY 1 ORDER BY 1',
          [[a.schema, b.schema].sort()],
        ),
      );
      // 11 data tables, schema_migrations, vector_indexes and one vector table each
      assert.deepEqual(
        tables.rows,
        [a.schema, b.schema].sort().map((schema) => ({ schema, n: 14 })),
      );
    } finally {
      await a.done();
      await b.done();
    }
  });

  test('several stores opening one new schema at once migrate it once; reopening applies nothing', async () => {
    const schema = uniqueSchema('race');
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ connectionString: databaseUrl(), schema, poolSize: 2 })));
    try {
      const migrations = await withAdmin((c) =>
        c.query<{ version: number; name: string; applied_at: Date }>(`SELECT version, name, applied_at FROM ${q(schema)}.schema_migrations ORDER BY version`),
      );
      assert.deepEqual(
        migrations.rows.map((m) => m.version),
        [1, 2, 3, 4, 5],
      );
      // the stores share the data, and a new model opened by all at once gets one table
      const indexes = await Promise.all(stores.map((s) => s.vectorIndex('fr_feature', 4)));
      await indexes[0]!.upsert([{ id: 'a', vector: new Float32Array([1, 0, 0, 0]) }]);
      for (const index of indexes) assert.deepEqual(await index.search(new Float32Array([1, 0, 0, 0]), 1), [{ id: 'a', distance: 0 }]);
      const registered = await withAdmin((c) => c.query(`SELECT model, dimensions FROM ${q(schema)}.vector_indexes`));
      assert.deepEqual(registered.rows, [{ model: 'fr_feature', dimensions: 4 }]);
      // the dimension is fixed in the database, for every process
      await assert.rejects(stores[1]!.vectorIndex('fr_feature', 8), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      const other = await openPostgresStore({ connectionString: databaseUrl(), schema });
      try {
        await assert.rejects(other.vectorIndex('fr_feature', 8), { name: 'AppError', code: 'INVALID_ARGUMENT', details: { model: 'fr_feature', expected: 4, actual: 8 } });
        assert.equal(await (await other.vectorIndex('fr_feature', 4)).count(), 1);
      } finally {
        await other.close();
      }
      const again = await withAdmin((c) => c.query(`SELECT version, name, applied_at FROM ${q(schema)}.schema_migrations ORDER BY version`));
      assert.deepEqual(again.rows, migrations.rows, 'same rows, same applied_at: nothing applied again');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropSchema(schema);
    }
  });

  test('a schema newer than the build is refused with DB_UNAVAILABLE (not retryable)', async () => {
    const { schema, done } = await freshStore('newer');
    try {
      await withAdmin((c) => c.query(`INSERT INTO ${q(schema)}.schema_migrations (version, name) VALUES (99, 'from the future')`));
      await assert.rejects(openPostgresStore({ connectionString: databaseUrl(), schema }), {
        name: 'AppError',
        code: 'DB_UNAVAILABLE',
        retryable: false,
        details: { schema, schemaVersion: 99, knownVersion: 5 },
      });
    } finally {
      await done();
    }
  });

  test('the audit log is append-only: the database itself refuses updates, deletes and truncation', async () => {
    const { store, schema, done } = await freshStore('audit');
    try {
      await store.audit.append({ at: new Date().toISOString(), actor: 'desk', source: 'test', action: 'person.create', target_type: 'person', target_id: 'p1', details: null });
      for (const sql of [`UPDATE ${q(schema)}.audit_log SET actor = 'someone else'`, `DELETE FROM ${q(schema)}.audit_log`, `TRUNCATE ${q(schema)}.audit_log`]) {
        await assert.rejects(
          withAdmin((c) => c.query(sql)),
          /append-only/,
          sql,
        );
      }
      assert.equal((await store.audit.list({})).items[0]?.actor, 'desk');
    } finally {
      await done();
    }
  });

  test('tables: processed_at is timestamptz, face_matches.person_id has no foreign key, each model has an HNSW cosine index', async () => {
    const { store, schema, done } = await freshStore('tables');
    try {
      await store.vectorIndex('fr_feature', 512);
      await store.vectorIndex('wide', 4096);
      const info = await withAdmin(async (c) => ({
        processedAt: (
          await c.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'processed_images' AND column_name = 'processed_at'`, [schema])
        ).rows,
        matchFks: (
          await c.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`, [
            `${q(schema)}.face_matches`,
          ])
        ).rows.map((r) => r.def),
        indexes: (
          await c.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'vector_entries_%' ORDER BY indexname`, [schema])
        ).rows.map((r) => r.indexdef),
        columns: (
          await c.query<{ t: string }>(
            `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid JOIN pg_namespace n ON n.oid = r.relnamespace
             WHERE n.nspname = $1 AND r.relname LIKE 'vector_entries_%' AND r.relkind = 'r' AND a.attname = 'embedding' ORDER BY r.relname`,
            [schema],
          )
        ).rows.map((r) => r.t),
      }));
      assert.deepEqual(info.processedAt, [{ data_type: 'timestamp with time zone' }]);
      assert.deepEqual(info.matchFks, [`FOREIGN KEY (image_id, face_index) REFERENCES ${schema}.processed_faces(image_id, face_index) ON DELETE CASCADE`]);
      assert.deepEqual(info.columns, ['vector(512)', 'vector(4096)']);
      // the default build: halfvec, m 16, ef_construction 128; the 4096-d model has its primary
      // key only (pgvector's HNSW on halfvec stops at 4000 dimensions)
      assert.equal(info.indexes.filter((d) => d.includes('USING hnsw')).length, 1);
      assert.match(
        info.indexes.find((d) => d.includes('USING hnsw')) ?? '',
        /USING hnsw \(\(\(embedding\)::halfvec\(512\)\) halfvec_cosine_ops\) WITH \(m='?16'?, ef_construction='?128'?\)/,
      );
    } finally {
      await done();
    }
  });

  test('HNSW itself (sequential scan off) gives the contract suite’s 500-vector answers exactly at ef_search 100', async () => {
    // The planner scans a table this small sequentially (exact), so the contract suite does not
    // exercise the graph: here the same data and queries go through the HNSW index on purpose.
    const { store, schema, done } = await freshStore('hnsw500', { annIndex: vectorIndex16x64 });
    try {
      const index = await store.vectorIndex('m', 64);
      const random = seededRandom(2);
      const items = Array.from({ length: 500 }, (_, i) => ({ id: `id-${String(i).padStart(3, '0')}`, vector: randomUnitVector(random, 64) }));
      await index.upsert(items);
      const queries = [...Array.from({ length: 4 }, () => randomUnitVector(random, 64)), ...[3, 150, 333, 499].map((i) => noisyUnitVector(random, items[i]!.vector, 0.05))];
      const table = await vectorTable(schema, 'm');
      await withAdmin(async (c) => {
        await c.query(`SET search_path TO ${q(schema)}, public; SET hnsw.ef_search = 100; SET enable_seqscan = off`);
        for (const [n, query] of queries.entries()) {
          const sql = `SELECT id, embedding <=> $1::vector AS distance FROM ${table} ORDER BY embedding <=> $1::vector LIMIT 10`;
          const plan = (await c.query(`EXPLAIN ${sql}`, [toText(query)])).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
          assert.match(plan, /Index Scan using .*hnsw/, 'the HNSW index answers');
          const found = (await c.query<{ id: string; distance: number }>(sql, [toText(query)])).rows;
          const expected = bruteForceNearest(items, query, 10);
          assert.deepEqual(
            found.map((r) => r.id),
            expected.map((r) => r.id),
            `query ${n}`,
          );
          found.forEach((r, i) => assert.ok(Math.abs(r.distance - expected[i]!.distance) < 1e-5));
        }
      });
    } finally {
      await done();
    }
  });

  test('k above ef_search still returns k rows, nearest first (iterative scan), and large tables use the index', async () => {
    const { store, schema, done } = await freshStore('iterative', { efSearch: 10, annIndex: vectorIndex16x64 });
    try {
      const index = await store.vectorIndex('m', 16);
      const random = seededRandom(5);
      const centres = Array.from({ length: 100 }, () => randomUnitVector(random, 16));
      const items = Array.from({ length: 6000 }, (_, i) => ({ id: `v${i}`, vector: noisyUnitVector(random, centres[i % 100]!, 0.05) }));
      await index.upsert(items);
      await withAdmin((c) => c.query(`ANALYZE ${q(schema)}.${q('vector_entries_1')}`));
      const query = noisyUnitVector(random, centres[7]!, 0.05);
      const found = await index.search(query, 150);
      assert.equal(found.length, 150);
      for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.distance <= found[i]!.distance, 'nearest first');
      const expected = new Set(bruteForceNearest(items, query, 150).map((m) => m.id));
      const recall = found.filter((m) => expected.has(m.id)).length / 150;
      assert.ok(recall >= 0.9, `recall@150 ${recall}`);
      // with ef_search 10 the nearest one is still found for a query inside a cluster
      assert.equal(found[0]?.id, bruteForceNearest(items, query, 1)[0]?.id);
      const plan = await withAdmin(async (c) => {
        await c.query(`SET search_path TO ${q(schema)}, public`);
        const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM vector_entries_1 ORDER BY embedding <=> $1::vector LIMIT 5`, [toText(query)]);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
      assert.match(plan, /Index Scan using vector_entries_1_hnsw/);
      // removed rows are skipped and the walk goes on to fill k
      await index.remove(found.slice(0, 100).map((m) => m.id));
      const after = await index.search(query, 100);
      assert.equal(after.length, 100);
      assert.ok(after.every((m) => !found.slice(0, 100).some((r) => r.id === m.id)));
    } finally {
      await done();
    }
  });

  test('bulk load: dropAnnIndex, upsert, buildAnnIndex', async () => {
    const { store, schema, done } = await freshStore('bulk');
    try {
      const index = (await store.vectorIndex('m', 8)) as Awaited<ReturnType<Store['vectorIndex']>> & {
        dropAnnIndex(): Promise<void>;
        buildAnnIndex(o?: { maintenanceWorkMem?: string }): Promise<void>;
      };
      const hnsw = async (): Promise<number> =>
        (await withAdmin((c) => c.query(`SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%USING hnsw%'`, [schema]))).rowCount ?? 0;
      await index.dropAnnIndex();
      assert.equal(await hnsw(), 0);
      const random = seededRandom(9);
      const items = Array.from({ length: 2500 }, (_, i) => ({ id: `v${i}`, vector: randomUnitVector(random, 8) }));
      await index.upsert(items);
      await index.buildAnnIndex({ maintenanceWorkMem: '256MB' });
      assert.equal(await hnsw(), 1);
      assert.equal(await index.count(), 2500);
      assert.equal((await index.search(items[42]!.vector, 1))[0]?.id, 'v42');
    } finally {
      await done();
    }
  });

  test('a halfvec HNSW index: rebuilt with storage halfvec, searches go through it and answer with exact distances', async () => {
    const { store, schema, done } = await freshStore('halfvec', { annIndex: vectorIndex16x64 });
    try {
      type Bulk = Awaited<ReturnType<Store['vectorIndex']>> & {
        dropAnnIndex(): Promise<void>;
        buildAnnIndex(o?: { storage?: 'vector' | 'halfvec' }): Promise<void>;
        annStorage: string | undefined;
      };
      const index = (await store.vectorIndex('m', 64)) as Bulk;
      assert.equal(index.annStorage, 'vector');
      const random = seededRandom(12);
      const centres = Array.from({ length: 50 }, () => randomUnitVector(random, 64));
      const items = Array.from({ length: 3000 }, (_, i) => ({ id: `v${i}`, vector: noisyUnitVector(random, centres[i % 50]!, 0.05) }));
      await index.upsert(items);
      await index.dropAnnIndex();
      await index.buildAnnIndex({ storage: 'halfvec' });
      assert.equal(index.annStorage, 'halfvec');
      const def = await withAdmin(
        async (c) => (await c.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%USING hnsw%'`, [schema])).rows[0]?.indexdef,
      );
      assert.match(def ?? '', /USING hnsw \(\(\(embedding\)::halfvec\(64\)\) halfvec_cosine_ops\)/);
      await withAdmin((c) => c.query(`ANALYZE ${q(schema)}.${q('vector_entries_1')}`));
      const plan = await withAdmin(async (c) => {
        await c.query(`SET search_path TO ${q(schema)}, public`);
        const sql = `SELECT id FROM (SELECT id, embedding FROM vector_entries_1 ORDER BY embedding::halfvec(64) <=> $1::vector::halfvec(64) LIMIT 5) AS nearest`;
        return (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [toText(items[0]!.vector)])).rows.map((r) => r['QUERY PLAN']).join('\n');
      });
      assert.match(plan, /Index Scan using vector_entries_1_hnsw/);
      for (const i of [3, 777, 2999]) {
        const query = noisyUnitVector(random, items[i]!.vector, 0.02);
        const found = await index.search(query, 10);
        const expected = bruteForceNearest(items, query, 10);
        assert.deepEqual(
          found.map((m) => m.id),
          expected.map((m) => m.id),
          `query near v${i}`,
        );
        // re-ranked on the float32 column: distances as exact as with a vector index
        found.forEach((m, j) => assert.ok(Math.abs(m.distance - expected[j]!.distance) < 1e-5));
      }
    } finally {
      await done();
    }
  });

  test('upsert: repeated ids in one batch (the last wins), batches above one statement, values round-trip as float32', async () => {
    const { store, done } = await freshStore('upsert');
    try {
      const index = await store.vectorIndex('m', 4);
      await index.upsert([
        { id: 'a', vector: new Float32Array([1, 0, 0, 0]) },
        { id: 'a', vector: new Float32Array([0, 1, 0, 0]) },
      ]);
      assert.equal(await index.count(), 1);
      assert.deepEqual(await index.search(new Float32Array([0, 1, 0, 0]), 1), [{ id: 'a', distance: 0 }]);
      const random = seededRandom(3);
      await index.upsert(Array.from({ length: 2345 }, (_, i) => ({ id: `v${i}`, vector: randomUnitVector(random, 4) })));
      assert.equal(await index.count(), 2346);
      // an awkward float32 comes back as itself: its distance to itself is 0
      const odd = new Float32Array([Math.fround(1 / 3), Math.fround(-1e-30), Math.fround(123456.789), Math.fround(Math.PI)]);
      await index.upsert([{ id: 'odd', vector: odd }]);
      const [hit] = await index.search(odd, 1);
      assert.equal(hit?.id, 'odd');
      assert.ok(Math.abs(hit.distance) < 1e-6);
    } finally {
      await done();
    }
  });

  test('vectors that are not finite or all zero, bad k and bad options are INVALID_ARGUMENT', async () => {
    const { store, done } = await freshStore('invalid');
    try {
      const index = await store.vectorIndex('fr_feature', 3);
      await assert.rejects(index.upsert([{ id: 'zero', vector: new Float32Array(3) }]), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.upsert([{ id: 'nan', vector: new Float32Array([1, Number.NaN, 0]) }]), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.upsert([{ id: '', vector: new Float32Array([1, 0, 0]) }]), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.search(new Float32Array([1, 0, 0]), 0), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(index.search(new Float32Array([1, 0, 0]), 1.5), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(store.vectorIndex('bad', 0), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(store.vectorIndex('huge', 16001), { code: 'INVALID_ARGUMENT' }, 'pgvector refuses more than 16000 dimensions');
      assert.equal(await index.count(), 0);
      // vectors need not be unit length: the cosine distance ignores length
      await index.upsert([{ id: 'long', vector: new Float32Array([3, 4, 0]) }]);
      const [match] = await index.search(new Float32Array([0.6, 0.8, 0]), 1);
      assert.equal(match?.id, 'long');
      assert.ok(Math.abs(match.distance) < 1e-6);
      for (const bad of [{ efSearch: 0 }, { efSearch: 1001 }, { poolSize: 0 }, { schema: '' }, { schema: 'x'.repeat(64) }, { connectionString: '' }]) {
        await assert.rejects(openPostgresStore({ connectionString: databaseUrl(), ...bad }), { code: 'INVALID_ARGUMENT' }, JSON.stringify(bad));
      }
    } finally {
      await done();
    }
  });

  test('a closed store rejects with DB_UNAVAILABLE (not retryable); close is idempotent', async () => {
    const { store, done } = await freshStore('closed');
    const index = await store.vectorIndex('fr_feature', 3);
    await done();
    await store.close();
    await assert.rejects(store.ping(), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: false });
    await assert.rejects(store.persons.get('p1'), { code: 'DB_UNAVAILABLE', retryable: false });
    await assert.rejects(store.persons.list(), { code: 'DB_UNAVAILABLE', retryable: false });
    await assert.rejects(index.search(new Float32Array([1, 0, 0]), 1), { code: 'DB_UNAVAILABLE', retryable: false });
  });

  test('no server at the address, or no such database: DB_UNAVAILABLE (retryable, not retryable)', async () => {
    const relay = new TcpRelay();
    await relay.start();
    const port = relay.port;
    await relay.stop(); // a port on which nothing listens
    await assert.rejects(openPostgresStore({ connectionString: urlVia('127.0.0.1', port), schema: uniqueSchema('nowhere') }), {
      name: 'AppError',
      code: 'DB_UNAVAILABLE',
      retryable: true,
    });
    const missing = new URL(databaseUrl());
    missing.pathname = `/${uniqueSchema('no_such_db')}`;
    await assert.rejects(openPostgresStore({ connectionString: missing.toString() }), {
      name: 'AppError',
      code: 'DB_UNAVAILABLE',
      retryable: false,
      details: { sqlState: '3D000' },
    });
  });

  test('a server that goes away gives DB_UNAVAILABLE (retryable); the store works again once it is back', async () => {
    const relay = new TcpRelay();
    await relay.start();
    const schema = uniqueSchema('outage');
    const store = await openPostgresStore({ connectionString: relay.url, schema, poolSize: 2, connectTimeoutMs: 2000 });
    try {
      await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
      const index = await store.vectorIndex('fr_feature', 3);
      await index.upsert([{ id: 'a', vector: new Float32Array([1, 0, 0]) }]);

      await relay.stop();
      await assert.rejects(store.persons.get('p1'), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: true });
      await assert.rejects(store.ping(), { name: 'AppError', code: 'DB_UNAVAILABLE', retryable: true });
      await assert.rejects(store.persons.list(), { code: 'DB_UNAVAILABLE', retryable: true });
      await assert.rejects(index.search(new Float32Array([1, 0, 0]), 1), { code: 'DB_UNAVAILABLE', retryable: true });
      await assert.rejects(store.processed.save(processedImage('r1', '2024-05-01T10:00:00.000Z', [])), { code: 'DB_UNAVAILABLE', retryable: true });

      await relay.start(); // same port: the server is back
      await store.ping();
      assert.equal((await store.persons.get('p1'))?.name, 'Alice');
      assert.deepEqual(await index.search(new Float32Array([1, 0, 0]), 1), [{ id: 'a', distance: 0 }]);
    } finally {
      await store.close();
      await relay.stop();
      await dropSchema(schema);
    }
  });

  test('a delete racing with addImage: the image is refused (PERSON_NOT_FOUND) or removed with its faces', async () => {
    const { store, done } = await freshStore('race_delete', { poolSize: 4 });
    try {
      for (let round = 0; round < 10; round++) {
        const personId = `p${round}`;
        await store.persons.create({ id: personId, name: 'Alice', reason: null, folder: `alice-${round}` });
        const img = referenceImage(`i${round}`, personId, '1.jpg');
        const [added, deleted] = await Promise.allSettled([store.references.addImage(img, [referenceFace(`f${round}`, img)]), store.persons.delete(personId)]);
        assert.equal(deleted.status, 'fulfilled');
        if (added.status === 'rejected') {
          assert.equal((added.reason as { code?: string }).code, 'PERSON_NOT_FOUND');
          assert.deepEqual(deleted.value.faceIds, []);
        } else {
          assert.deepEqual(deleted.value.faceIds, [`f${round}`], 'the delete reports the face it cascaded');
        }
        assert.deepEqual(await store.references.facesByIds([`f${round}`]), []);
      }
    } finally {
      await done();
    }
  });
  test('rebuildAnn: a new HNSW index is built beside the one in use and replaces it; searches answer throughout; progress is reported', async () => {
    const { store, schema, done } = await freshStore('rebuild', { annIndex: vectorIndex16x64 });
    // another process on the same tables, with the shipped settings
    const other = await openPostgresStore({ connectionString: databaseUrl(), schema });
    try {
      const index = await store.vectorIndex('m', 32);
      const random = seededRandom(21);
      const centres = Array.from({ length: 60 }, () => randomUnitVector(random, 32));
      const items = Array.from({ length: 3000 }, (_, i) => ({ id: `v${i}`, vector: noisyUnitVector(random, centres[i % 60]!, 0.05) }));
      await index.upsert(items);
      await withAdmin((c) => c.query(`ANALYZE ${q(schema)}.${q('vector_entries_1')}`));
      const otherIndex = await other.vectorIndex('m', 32);
      assert.deepEqual((await otherIndex.describeAnn!()).inUse, vectorIndex16x64);

      // the other process searches all along; each answer must be the true nearest vector
      let building = true;
      const answers: boolean[] = [];
      const searching = (async () => {
        for (let i = 0; building || answers.length === 0; i = (i + 97) % items.length) {
          const query = noisyUnitVector(random, items[i]!.vector, 0.01);
          answers.push((await otherIndex.search(query, 1))[0]?.id === bruteForceNearest(items, query, 1)[0]?.id);
        }
      })();
      const progress: AnnBuildProgress[] = [];
      const report = await index.rebuildAnn!({ storage: 'halfvec', m: 8, efConstruction: 32, maintenanceWorkMem: '64MB', switchWaitMs: 200 } as never, (p) =>
        progress.push(p),
      ).finally(() => (building = false));
      await searching;
      assert.ok(answers.length > 0 && answers.every(Boolean), `${answers.filter((a) => !a).length} of ${answers.length} searches missed the nearest vector`);

      assert.deepEqual(report.before, vectorIndex16x64);
      assert.deepEqual(report.after, { storage: 'halfvec', m: 8, efConstruction: 32 });
      assert.equal(report.vectors, 3000);
      assert.deepEqual(await index.describeAnn!(), { inUse: report.after, configured: vectorIndex16x64, efSearch: 100 });
      assert.deepEqual(progress[0], { phase: 'starting', done: 0, total: 3000 });
      const own = progress.map((p) => p.phase).filter((p) => !p.includes(':') && !p.startsWith('waiting for writers') && !p.startsWith('waiting for old') && p !== 'initializing');
      assert.deepEqual(own, ['starting', 'switching to the new index', 'waiting for other processes to switch', 'dropping the former index']);
      assert.ok(progress.every((p) => p.total === 3000 && p.done >= 0 && p.done <= 3000));
      const indexes = await withAdmin(
        async (c) =>
          (await c.query<{ indexname: string; indexdef: string }>(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%USING hnsw%'`, [schema]))
            .rows,
      );
      assert.deepEqual(
        indexes.map((r) => r.indexname),
        ['vector_entries_1_hnsw'],
      );
      assert.match(indexes[0]!.indexdef, /halfvec_cosine_ops\) WITH \(m='?8'?, ef_construction='?32'?\)/);
      // both processes answer through the new index (the other one once it has looked again) with exact distances
      for (const i of [5, 1500, 2999]) {
        const query = noisyUnitVector(random, items[i]!.vector, 0.01);
        const expected = bruteForceNearest(items, query, 1)[0]!;
        for (const found of [await index.search(query, 1), await otherIndex.search(query, 1)]) {
          assert.equal(found[0]?.id, expected.id);
          assert.ok(Math.abs(found[0]!.distance - expected.distance) < 1e-5);
        }
      }
    } finally {
      await other.close();
      await done();
    }
  });

  test('rebuildAnn: one at a time (INDEX_BUILD_RUNNING), settings pgvector refuses are INVALID_ARGUMENT, leftovers of a cut-short build are dropped', async () => {
    const { store, schema, done } = await freshStore('rebuild_guard');
    try {
      const index = await store.vectorIndex('m', 8);
      const random = seededRandom(22);
      const items = Array.from({ length: 500 }, (_, i) => ({ id: `v${i}`, vector: randomUnitVector(random, 8) }));
      await index.upsert(items);
      const rebuild = (options: Record<string, unknown>, onProgress?: (p: AnnBuildProgress) => void) => index.rebuildAnn!({ switchWaitMs: 0, ...options } as never, onProgress);

      // a rebuild holds the table's advisory lock: another one is refused while it is held
      await withAdmin(async (c) => {
        await c.query(`SET search_path TO ${q(schema)}, public`);
        await c.query(`SELECT pg_advisory_lock(hashtextextended('facewatch.vector-index:' || to_regclass($1)::oid::text, 0))`, ['vector_entries_1']);
        await assert.rejects(rebuild({}), (err: { code?: string }) => err.code === 'INDEX_BUILD_RUNNING');
      });
      for (const bad of [{ m: 16, efConstruction: 20 }, { m: 1 }, { efConstruction: 2000 }, { storage: 'float8' }, { maintenanceWorkMem: "1GB'; DROP TABLE persons; --" }]) {
        await assert.rejects(rebuild(bad), (err: { code?: string }) => err.code === 'INVALID_ARGUMENT', JSON.stringify(bad));
      }
      assert.deepEqual((await index.describeAnn!()).inUse, { storage: 'halfvec', m: 16, efConstruction: 128 }, 'refusals left the index as it was');

      // a build cut short leaves an invalid index under the temporary name, and a switch cut short the former one
      await withAdmin(async (c) => {
        await c.query(`CREATE INDEX vector_entries_1_hnsw_next ON ${q(schema)}.vector_entries_1 (id)`);
        await c.query(`CREATE INDEX vector_entries_1_hnsw_previous ON ${q(schema)}.vector_entries_1 (id)`);
      });
      const phases: string[] = [];
      const report = await rebuild({ storage: 'vector', m: 4, efConstruction: 8 }, (p) => phases.push(p.phase));
      assert.deepEqual(report.after, { storage: 'vector', m: 4, efConstruction: 8 });
      const names = await withAdmin(
        async (c) => (await c.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'vector_entries_1' ORDER BY 1`, [schema])).rows,
      );
      assert.deepEqual(
        names.map((r) => r.indexname),
        ['vector_entries_1_hnsw', 'vector_entries_1_pkey'],
      );
      assert.equal((await index.search(items[77]!.vector, 1))[0]?.id, 'v77');

      // without an HNSW index (a bulk load dropped it) there is nothing to wait for or drop
      await (index as unknown as { dropAnnIndex(): Promise<void> }).dropAnnIndex();
      assert.equal((await index.describeAnn!()).inUse, undefined);
      phases.length = 0;
      const fromNone = await rebuild({}, (p) => phases.push(p.phase));
      assert.equal(fromNone.before, undefined);
      assert.deepEqual(fromNone.after, { storage: 'halfvec', m: 16, efConstruction: 128 });
      assert.ok(!phases.includes('waiting for other processes to switch') && phases.at(-1) === 'switching to the new index', phases.join(', '));
    } finally {
      await done();
    }
  });
});
