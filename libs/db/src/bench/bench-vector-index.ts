import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../sqlite/open-sqlite-store.js';
import { noisyUnitVector, randomUnitVector, seededRandom } from '../testing/vectors.js';
import type { VectorIndex } from '../types.js';
import { SqliteVecIndex } from './sqlite-vec-index.js';

// `npm run bench:vector [sizes...]`: the two SQLite vector-index candidates on clustered synthetic
// 512-d unit vectors (like face embeddings: a few per identity, identities far apart). For each size:
// insert time (batches of 1000, one transaction each), time until the first answer after reopening
// the file, query p50/p95 (k=5), recall@1 against a float64 brute-force scan, and file size.
const dimensions = 512;
const centres = 2000;
const sigma = 0.03; // per component: members of a cluster sit ≈0.32 apart (cosine), clusters ≈1.0
const queryCount = 300;
const warmUp = 20;
const k = 5;
const batch = 1000;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (sizes.length === 0) sizes.push(10_000, 100_000);

interface Candidate {
  name: string;
  /** Opens the index on the file (creating it), returns it with a close. */
  open(path: string): Promise<{ index: VectorIndex; close(): Promise<void> }>;
}

const candidates: Candidate[] = [
  {
    name: 'exact scan (in-memory Float32Array, rows in SQLite)',
    async open(path) {
      const store = await openSqliteStore({ path });
      return { index: await store.vectorIndex('bench', dimensions), close: () => store.close() };
    },
  },
  {
    name: 'sqlite-vec 0.1.9 vec0 (cosine)',
    async open(path) {
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      SqliteVecIndex.loadExtension(db);
      return { index: SqliteVecIndex.open(db, 'bench', dimensions), close: async () => void db.close() };
    },
  },
];

function dataset(n: number): { ids: string[]; vectors: Float32Array[]; queries: Float32Array[] } {
  const random = seededRandom(42);
  const centreVectors = Array.from({ length: centres }, () => randomUnitVector(random, dimensions));
  const vectors = Array.from({ length: n }, (_, i) => noisyUnitVector(random, centreVectors[i % centres]!, sigma));
  const queries = Array.from({ length: queryCount + warmUp }, () => noisyUnitVector(random, centreVectors[Math.floor(random() * centres)]!, sigma));
  return { ids: vectors.map((_, i) => `face-${i}`), vectors, queries };
}

/** Ground truth: the nearest id of each query by a float64 scan (cosine; every vector is unit length). */
function exactNearest(vectors: Float32Array[], ids: string[], queries: Float32Array[]): string[] {
  return queries.map((q) => {
    let best = -Infinity;
    let bestId = '';
    for (let i = 0; i < vectors.length; i++) {
      const v = vectors[i]!;
      let dot = 0;
      for (let j = 0; j < dimensions; j++) dot += q[j]! * v[j]!;
      if (dot > best) {
        best = dot;
        bestId = ids[i]!;
      }
    }
    return bestId;
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function fileMb(path: string): number {
  let bytes = 0;
  for (const suffix of ['', '-wal']) {
    try {
      bytes += statSync(path + suffix).size;
    } catch {
      // no WAL file after a clean close
    }
  }
  return bytes / 1e6;
}

const cpu = cpus()[0]?.model ?? 'unknown cpu';
const probe = new Database(':memory:');
const sqliteVersion = probe.prepare('SELECT sqlite_version()').pluck().get() as string;
probe.close();
console.log(`bench:vector — ${dimensions}-d clustered unit vectors (${centres} centres, noise σ=${sigma} per component), k=${k}, ${queryCount} queries`);
console.log(`node ${process.version}, ${cpus().length} cores (${cpu}), better-sqlite3 SQLite ${sqliteVersion}`);
console.log('vectors | candidate                                           | insert s | vectors/s | ready after reopen ms | query p50 ms | p95 ms | recall@1 | file MB');

for (const n of sizes) {
  const { ids, vectors, queries } = dataset(n);
  const truth = exactNearest(vectors, ids, queries.slice(warmUp));
  for (const candidate of candidates) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-vector-'));
    const path = join(dir, 'bench.db');
    try {
      let { index, close } = await candidate.open(path);
      const t0 = performance.now();
      for (let i = 0; i < n; i += batch) {
        await index.upsert(ids.slice(i, i + batch).map((id, j) => ({ id, vector: vectors[i + j]! })));
      }
      const insertS = (performance.now() - t0) / 1000;
      await close();

      const t1 = performance.now();
      ({ index, close } = await candidate.open(path));
      await index.search(queries[0]!, k);
      const readyMs = performance.now() - t1;
      if ((await index.count()) !== n) throw new Error(`${candidate.name}: count ${await index.count()} after inserting ${n}`);

      for (const q of queries.slice(0, warmUp)) await index.search(q, k);
      const times: number[] = [];
      let hits = 0;
      for (const [i, q] of queries.slice(warmUp).entries()) {
        const t = performance.now();
        const found = await index.search(q, k);
        times.push(performance.now() - t);
        if (found[0]?.id === truth[i]) hits++;
      }
      await close();
      times.sort((a, b) => a - b);
      console.log(
        `${String(n).padStart(7)} | ${candidate.name.padEnd(51)} | ${insertS.toFixed(2).padStart(8)} | ${Math.round(n / insertS).toString().padStart(9)} | ${readyMs.toFixed(0).padStart(21)} | ${percentile(times, 50).toFixed(2).padStart(12)} | ${percentile(times, 95).toFixed(2).padStart(6)} | ${(hits / queryCount).toFixed(3).padStart(8)} | ${fileMb(path).toFixed(1).padStart(7)}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
