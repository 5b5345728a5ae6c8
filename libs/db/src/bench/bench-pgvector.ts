import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openPostgresStore } from '../postgres/open-postgres-store.js';
import { PgVectorIndex, toVectorBinary } from '../postgres/pgvector-index.js';
import { noisyUnitVector, randomUnitVector, seededRandom } from '../testing/vectors.js';

// `DATABASE_URL=postgresql://… npm run bench:pgvector [vectors]`: the PostgreSQL store's pgvector
// HNSW index on clustered synthetic 512-d unit vectors (like face embeddings: ~10 per identity,
// identities far apart). Bulk load through VectorIndex.upsert with the HNSW index dropped, then one
// index build (timed apart); then query p50/p99 (k=5) through VectorIndex.search for ef_search 40,
// 100 and 200 (one store per value: efSearch is a store option), and recall@1 / recall@5 against an
// exact float64 brute-force scan in JS. Also the exact sequential scan of PostgreSQL for reference.
// Works in a schema of its own, dropped at the end.
const dimensions = 512;
const centres = 10_000;
const sigma = 0.03; // per component, as bench:vector: members of a cluster sit ≈0.32 apart (cosine), clusters ≈1.0
const queryCount = 300;
const warmUp = 30;
const k = 5;
const batch = 1000;
const efSearches = [40, 100, 200];
const n = Number(process.argv[2] ?? 100_000);
const url = process.env.DATABASE_URL;
if (url === undefined || url === '') {
  console.error('DATABASE_URL is not set (a PostgreSQL server with pgvector, e.g. from `bash scripts/services.sh up postgres`)');
  process.exit(2);
}
if (!Number.isInteger(n) || n < 1) {
  console.error(`usage: bench-pgvector [vectors], got ${process.argv[2]}`);
  process.exit(2);
}

function dataset(): { ids: string[]; vectors: Float32Array[]; queries: Float32Array[] } {
  const random = seededRandom(42);
  const centreVectors = Array.from({ length: centres }, () => randomUnitVector(random, dimensions));
  const vectors = Array.from({ length: n }, (_, i) => noisyUnitVector(random, centreVectors[i % centres]!, sigma));
  const queries = Array.from({ length: queryCount + warmUp }, () => noisyUnitVector(random, centreVectors[Math.floor(random() * centres)]!, sigma));
  return { ids: vectors.map((_, i) => `face-${i}`), vectors, queries };
}

/** Ground truth: the k nearest ids of each query by a float64 scan (every vector is unit length, so cosine = dot). */
function exactNearest(vectors: Float32Array[], ids: string[], queries: Float32Array[]): string[][] {
  return queries.map((q) => {
    const best: { dot: number; i: number }[] = [];
    for (let i = 0; i < vectors.length; i++) {
      const v = vectors[i]!;
      let dot = 0;
      for (let j = 0; j < dimensions; j++) dot += q[j]! * v[j]!;
      if (best.length < k || dot > best[best.length - 1]!.dot) {
        best.push({ dot, i });
        best.sort((a, b) => b.dot - a.dot);
        if (best.length > k) best.pop();
      }
    }
    return best.map((b) => ids[b.i]!);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const pad = (value: string | number, width: number): string => String(value).padStart(width);

/** The statement PgVectorIndex.search runs (table 1 of the bench's own schema). */
const searchSql = 'SELECT id, embedding <=> $1::vector AS distance FROM vector_entries_1 ORDER BY embedding <=> $1::vector LIMIT $2';

const schema = `bench_pgvector_${randomUUID().slice(0, 8)}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
try {
  const server = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v;
  const settings = (
    await admin.query<{ name: string; value: string }>(
      "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN ('shared_buffers', 'max_parallel_maintenance_workers', 'jit') ORDER BY name",
    )
  ).rows.map((r) => `${r.name}=${r.value}`);

  const started = performance.now();
  const { ids, vectors, queries } = dataset();
  const measured = queries.slice(warmUp);
  const truth = exactNearest(vectors, ids, measured);
  const prepS = (performance.now() - started) / 1000;

  const store = await openPostgresStore({ connectionString: url, schema, poolSize: 2 });
  const opened = await store.vectorIndex('bench', dimensions);
  if (!(opened instanceof PgVectorIndex)) throw new Error('expected the pgvector index');
  const extVersion = (await admin.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")).rows[0]?.v;
  console.log(`bench:pgvector — ${n} clustered ${dimensions}-d unit vectors (${centres} centres, noise σ=${sigma} per component), k=${k}, ${queryCount} queries after ${warmUp} warm-up`);
  console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), PostgreSQL ${server}, pgvector ${extVersion}, ${settings.join(', ')}`);
  console.log(`HNSW m=16 ef_construction=64, vector_cosine_ops; ground truth: float64 brute force in JS (${prepS.toFixed(1)} s with data generation)`);

  await opened.dropAnnIndex();
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch) {
    await opened.upsert(ids.slice(i, i + batch).map((id, j) => ({ id, vector: vectors[i + j]! })));
  }
  const loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await opened.buildAnnIndex({ maintenanceWorkMem: '1GB' });
  const buildS = (performance.now() - t1) / 1000;
  await admin.query(`ANALYZE ${pg.escapeIdentifier(schema)}.vector_entries_1`);
  const sizes = (
    await admin.query<{ table_mb: number; index_mb: number }>(
      `SELECT pg_table_size($1::regclass) / 1e6 AS table_mb, pg_relation_size($2::regclass) / 1e6 AS index_mb`,
      [`${pg.escapeIdentifier(schema)}.vector_entries_1`, `${pg.escapeIdentifier(schema)}.vector_entries_1_hnsw`],
    )
  ).rows[0]!;
  if ((await opened.count()) !== n) throw new Error(`count ${await opened.count()} after loading ${n}`);
  await store.close();
  console.log(
    `bulk load (upsert, batches of ${batch}, no index): ${loadS.toFixed(1)} s = ${Math.round(n / loadS)} vectors/s; HNSW build: ${buildS.toFixed(1)} s; table ${Number(sizes.table_mb).toFixed(0)} MB, index ${Number(sizes.index_mb).toFixed(0)} MB`,
  );

  console.log('ef_search | plan         | query p50 ms | p99 ms | recall@1 | recall@5');
  for (const efSearch of efSearches) {
    const s = await openPostgresStore({ connectionString: url, schema, efSearch, poolSize: 1 });
    try {
      const index = await s.vectorIndex('bench', dimensions);
      // the plan the store's query gets with this ef_search (a small table would be scanned instead)
      await admin.query(`SET search_path TO ${pg.escapeIdentifier(schema)}, public; SET hnsw.ef_search = ${efSearch}`);
      const plan = (await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${searchSql}`, [toVectorBinary(measured[0]!), k])).rows.map((r) => r['QUERY PLAN']).join(' ');
      const planName = /Index Scan using \S*hnsw/.test(plan) ? 'HNSW index' : /Seq Scan/.test(plan) ? 'seq scan' : 'other';
      for (const q of queries.slice(0, warmUp)) await index.search(q, k);
      const times: number[] = [];
      let hits1 = 0;
      let hits5 = 0;
      for (const [i, q] of measured.entries()) {
        const t = performance.now();
        const found = await index.search(q, k);
        times.push(performance.now() - t);
        const expected = truth[i]!;
        if (found[0]?.id === expected[0]) hits1++;
        hits5 += found.filter((m) => expected.includes(m.id)).length;
      }
      times.sort((a, b) => a - b);
      console.log(
        `${pad(efSearch, 9)} | ${planName.padEnd(12)} | ${pad(percentile(times, 50).toFixed(2), 12)} | ${pad(percentile(times, 99).toFixed(2), 6)} | ${pad((hits1 / queryCount).toFixed(3), 8)} | ${pad((hits5 / (queryCount * k)).toFixed(3), 8)}`,
      );
    } finally {
      await s.close();
    }
  }

  // the exact answer PostgreSQL gives without the index (a sequential scan of every row)
  await admin.query('SET enable_indexscan = off');
  const plan = (await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${searchSql}`, [toVectorBinary(measured[0]!), k])).rows
    .map((r) => r['QUERY PLAN'])
    .join(' ');
  const exactQueries = 30;
  const times: number[] = [];
  let hits1 = 0;
  let hits5 = 0;
  for (const [i, q] of measured.slice(0, exactQueries).entries()) {
    const t = performance.now();
    const { rows } = await admin.query<{ id: string }>(searchSql, [toVectorBinary(q), k]);
    times.push(performance.now() - t);
    if (rows[0]?.id === truth[i]![0]) hits1++;
    hits5 += rows.filter((r) => truth[i]!.includes(r.id)).length;
  }
  times.sort((a, b) => a - b);
  console.log(
    `${pad('-', 9)} | ${(/Seq Scan/.test(plan) ? 'seq scan' : 'other').padEnd(12)} | ${pad(percentile(times, 50).toFixed(2), 12)} | ${pad(percentile(times, 99).toFixed(2), 6)} | ${pad((hits1 / exactQueries).toFixed(3), 8)} | ${pad((hits5 / (exactQueries * k)).toFixed(3), 8)}  (exact, ${exactQueries} queries, enable_indexscan=off)`,
  );
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`).catch((err: unknown) => console.error('could not drop', schema, err));
  await admin.end();
}
