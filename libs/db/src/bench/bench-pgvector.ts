import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPostgresStore } from '../postgres/open-postgres-store.js';
import { defaultAnnIndex, PgVectorIndex, searchSql, toVectorBinary, type AnnStorage } from '../postgres/pgvector-index.js';
import { gaussian, normalise, randomUnitVector, seededRandom } from '../testing/vectors.js';
import { exactTopKMany, percentile } from './bench-utils.js';

// `DATABASE_URL=postgresql://… npm run bench:pgvector -- [--vectors 100000] [--storage halfvec,vector]
//   [--m 16] [--ef-construction 128] [--ef-search 40,64,100,200] [--k 5,64] [--keep | --reuse <schema>]`
//
// The PostgreSQL store's pgvector HNSW index on clustered synthetic 512-d unit vectors (like face
// embeddings: ~10 per identity, so vectors/10 random centres, each vector centre + N(0, 0.03²) per
// component, normalised; identities ≈1.0 apart, faces of one identity ≈0.32). Loads through
// VectorIndex.upsert with the HNSW index dropped, then for each storage (float32 `vector`, or
// float16 `halfvec` on the same column) builds the index (timed) and measures, for each k and
// ef_search, query p50/p99 through VectorIndex.search (one store per ef_search: it is a store
// option) and recall@1 / recall@5 (share of the true 5 nearest among the k returned) against an
// exact float64 scan in JS. k=64 is what the local
// backend asks for (at least 64 candidates, then scores the people they belong to). The ground
// truth of a data set is cached in the temp folder. Works in a schema of its own, dropped at the
// end unless --keep (then --reuse <schema> measures again without loading, and without building
// when the index there has the storage asked for, unless --rebuild).
const { values } = parseArgs({
  options: {
    vectors: { type: 'string', default: '100000' },
    centres: { type: 'string' },
    spectrum: { type: 'string', default: 'uniform' },
    storage: { type: 'string', default: 'halfvec,vector' },
    m: { type: 'string', default: '16' },
    'ef-construction': { type: 'string', default: String(defaultAnnIndex.efConstruction) },
    'ef-search': { type: 'string', default: '40,64,100,200' },
    k: { type: 'string', default: '5,64' },
    queries: { type: 'string', default: '300' },
    'maintenance-work-mem': { type: 'string', default: '4GB' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'string' },
    rebuild: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const dimensions = 512;
const sigma = 0.03;
const warmUp = 30;
const batch = 1000;
const n = Number(values.vectors);
const centres = values.centres ? Number(values.centres) : Math.max(1, Math.round(n / 10));
const queryCount = Number(values.queries);
// 'uniform': identity centres uniform on the sphere (two identities' cosine has sd 0.044 in 512-d:
// no structure a graph can follow, the hardest case for HNSW); 'face': centres drawn with sd
// (j+1)^-0.37 on component j, so two identities' cosine has sd ≈ 0.10, as impostor pairs of real
// fr_feature embeddings (docs/face-thresholds.md: 90th percentile 0.137).
const spectrum = values.spectrum;
const spectrumAlpha = 0.37;
const storages = values.storage.split(',') as AnnStorage[];
const m = Number(values.m);
const efConstruction = Number(values['ef-construction']);
const efSearches = values['ef-search'].split(',').map(Number);
const ks = values.k.split(',').map(Number);
const url = process.env.DATABASE_URL;
if (url === undefined || url === '') {
  console.error('DATABASE_URL is not set (a PostgreSQL server with pgvector, e.g. from `bash scripts/services.sh up postgres`)');
  process.exit(2);
}
if (!Number.isInteger(n) || n < 1 || storages.some((s) => s !== 'vector' && s !== 'halfvec')) {
  console.error('usage: bench-pgvector [--vectors n] [--storage halfvec,vector] [--m 16] [--ef-construction 128] [--ef-search 40,100] [--k 5,64] [--keep | --reuse schema]');
  process.exit(2);
}

/** The data set as one Float32Array (row i at i × 512) plus queries, from a fixed seed. */
function dataset(): { vectors: Float32Array; queries: Float32Array[] } {
  const random = seededRandom(42);
  const sd = Float64Array.from({ length: dimensions }, (_, j) => (spectrum === 'face' ? (j + 1) ** -spectrumAlpha : 1));
  const centreVectors = Array.from({ length: centres }, () => {
    const v = randomUnitVector(random, dimensions);
    for (let j = 0; j < dimensions; j++) v[j] = v[j]! * sd[j]!;
    return normalise(v);
  });
  const vectors = new Float32Array(n * dimensions);
  const noisy = (centre: Float32Array, out: Float32Array): void => {
    let sum = 0;
    for (let j = 0; j < dimensions; j++) {
      const x = centre[j]! + sigma * gaussian(random);
      out[j] = x;
      sum += x * x;
    }
    const scale = 1 / Math.sqrt(sum);
    for (let j = 0; j < dimensions; j++) out[j] = out[j]! * scale;
  };
  for (let i = 0; i < n; i++) noisy(centreVectors[i % centres]!, vectors.subarray(i * dimensions, (i + 1) * dimensions));
  const queries = Array.from({ length: queryCount + warmUp }, () => {
    const q = new Float32Array(dimensions);
    noisy(centreVectors[Math.floor(random() * centres)]!, q);
    return q;
  });
  return { vectors, queries };
}

const id = (i: number): string => `face-${i}`;
const pad = (value: string | number, width: number): string => String(value).padStart(width);
const maxK = Math.max(...ks);

const started = performance.now();
const { vectors, queries } = dataset();
const measured = queries.slice(warmUp);
const truthFile = join(tmpdir(), 'facewatch-bench-pgvector', `truth-${n}-${centres}-${spectrum}-${queryCount}-${maxK}.json`);
let truth: number[][];
if (existsSync(truthFile)) {
  truth = JSON.parse(readFileSync(truthFile, 'utf8')) as number[][];
} else {
  truth = exactTopKMany(vectors, dimensions, measured, maxK).map((top) => top.map((r) => r.row));
  mkdirSync(join(tmpdir(), 'facewatch-bench-pgvector'), { recursive: true });
  writeFileSync(truthFile, JSON.stringify(truth));
}
const prepS = (performance.now() - started) / 1000;

const admin = new pg.Client({ connectionString: url });
await admin.connect();
const schema = values.reuse ?? `bench_pgvector_${randomUUID().slice(0, 8)}`;
const q = pg.escapeIdentifier;
try {
  const server = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v;
  const settings = (
    await admin.query<{ name: string; value: string }>(
      "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN ('shared_buffers', 'max_parallel_maintenance_workers', 'jit', 'effective_cache_size') ORDER BY name",
    )
  ).rows.map((r) => `${r.name}=${r.value}`);
  const extVersion = (await admin.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")).rows[0]?.v;
  console.log(
    `bench:pgvector — ${n} clustered ${dimensions}-d unit vectors (${centres} centres, ${spectrum === 'face' ? `face-like spectrum (sd of component j ∝ (j+1)^-${spectrumAlpha})` : 'uniform on the sphere'}, noise σ=${sigma} per component), ${queryCount} queries after ${warmUp} warm-up, k ${ks.join(' and ')}`,
  );
  console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), PostgreSQL ${server}, pgvector ${extVersion}, ${settings.join(', ')}`);
  console.log(`ground truth: float64 brute force in JS, cached in ${truthFile} (${prepS.toFixed(1)} s with data generation)`);

  const store = await openPostgresStore({ connectionString: url, schema, poolSize: 2 });
  const opened = await store.vectorIndex('bench', dimensions);
  if (!(opened instanceof PgVectorIndex)) throw new Error('expected the pgvector index');
  const table = `${q(schema)}.vector_entries_1`;
  if (values.reuse === undefined) {
    await opened.dropAnnIndex();
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) {
      const items = [];
      for (let j = i; j < Math.min(n, i + batch); j++) items.push({ id: id(j), vector: vectors.subarray(j * dimensions, (j + 1) * dimensions) });
      await opened.upsert(items);
    }
    const loadS = (performance.now() - t0) / 1000;
    await admin.query(`VACUUM ANALYZE ${table}`);
    const tableMb = Number((await admin.query<{ mb: number }>('SELECT pg_table_size($1::regclass) / 1e6 AS mb', [table])).rows[0]!.mb);
    console.log(`bulk load (upsert, batches of ${batch}, no index): ${loadS.toFixed(1)} s = ${Math.round(n / loadS)} vectors/s; table ${tableMb.toFixed(0)} MB`);
  }
  if ((await opened.count()) !== n) throw new Error(`count ${await opened.count()} in ${schema}, expected ${n}`);

  console.log('storage | m  | ef_con | build s | index MB |   k | ef_search | plan | query p50 ms | p99 ms | recall@1 | recall@5');
  for (const storage of storages) {
    let buildS = Number.NaN;
    if (values.reuse === undefined || values.rebuild || opened.annStorage !== storage) {
      await opened.dropAnnIndex();
      const t1 = performance.now();
      await opened.buildAnnIndex({ storage, m, efConstruction, maintenanceWorkMem: values['maintenance-work-mem'] });
      buildS = (performance.now() - t1) / 1000;
    }
    const indexMb = Number((await admin.query<{ mb: number }>('SELECT pg_relation_size($1::regclass) / 1e6 AS mb', [`${q(schema)}.vector_entries_1_hnsw`])).rows[0]!.mb);
    await admin.query(`SET search_path TO ${q(schema)}, public`);
    for (const k of ks) {
      for (const efSearch of efSearches) {
        const s = await openPostgresStore({ connectionString: url, schema, efSearch, poolSize: 1 });
        try {
          const index = await s.vectorIndex('bench', dimensions);
          await admin.query(`SET hnsw.ef_search = ${efSearch}`);
          const plan = (await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${searchSql('vector_entries_1', dimensions, storage)}`, [toVectorBinary(measured[0]!), k])).rows
            .map((r) => r['QUERY PLAN'])
            .join(' ');
          const planName = /Index Scan using \S*hnsw/.test(plan) ? 'HNSW' : /Seq Scan/.test(plan) ? 'scan' : 'other';
          for (const query of queries.slice(0, warmUp)) await index.search(query, k);
          const times: number[] = [];
          let hits1 = 0,
            hits5 = 0;
          for (const [i, query] of measured.entries()) {
            const t = performance.now();
            const found = await index.search(query, k);
            times.push(performance.now() - t);
            const expected = truth[i]!.slice(0, 5).map(id);
            if (found[0]?.id === expected[0]) hits1++;
            hits5 += found.filter((f) => expected.includes(f.id)).length;
          }
          times.sort((a, b) => a - b);
          console.log(
            `${storage.padEnd(7)} | ${pad(m, 2)} | ${pad(efConstruction, 6)} | ${pad(Number.isNaN(buildS) ? '-' : buildS.toFixed(0), 7)} | ${pad(indexMb.toFixed(0), 8)} | ${pad(k, 3)} | ${pad(efSearch, 9)} | ${planName.padEnd(4)} | ${pad(percentile(times, 50).toFixed(2), 12)} | ${pad(percentile(times, 99).toFixed(2), 6)} | ${pad((hits1 / queryCount).toFixed(3), 8)} | ${pad((hits5 / (queryCount * Math.min(5, k))).toFixed(3), 8)}`,
          );
        } finally {
          await s.close();
        }
      }
    }
  }
  await store.close();
} finally {
  if (values.keep || values.reuse !== undefined) console.log(`kept schema ${schema} (drop it with: DROP SCHEMA ${schema} CASCADE)`);
  else await admin.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`).catch((err: unknown) => console.error('could not drop', schema, err));
  await admin.end();
}
