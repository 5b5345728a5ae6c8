import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../sqlite/open-sqlite-store.js';
import { noisyUnitVector, randomUnitVector, seededRandom } from '../testing/vectors.js';
import type { VectorIndex } from '../types.js';
import { exactTopKMany, percentile } from './bench-utils.js';
import { SqliteVecIndex } from './sqlite-vec-index.js';

// `npm run bench:vector [-- --sizes 10000,100000] [--sqlite-vec] [--load-seconds 5]`: the SQLite
// store's vector index on clustered synthetic 512-d unit vectors (like face embeddings: ~10 per
// identity, identities far apart). For each size: insert time (batches of 1000, one transaction
// each), time until the first answer after reopening the file, query p50/p99 one at a time at
// k=5 and at k=64 (what the local backend asks for), recall@1 against a float64 brute-force scan,
// file size; then a search load (4 clients searching at k=64 without pause) while an HTTP client
// asks a /health route of an HTTP server in the same process every 20 ms: the health answer times
// show whether searches hold the event loop. With --sqlite-vec, sqlite-vec 0.1.9's vec0 too.
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    'sqlite-vec': { type: 'boolean', default: false },
    'load-seconds': { type: 'string', default: '5' },
    queries: { type: 'string', default: '300' },
  },
});
const dimensions = 512;
const sigma = 0.03; // per component: members of a cluster sit ≈0.32 apart (cosine), clusters ≈1.0
const queryCount = Number(values.queries);
const warmUp = 20;
const batch = 1000;
const loadClients = 4;
const loadSeconds = Number(values['load-seconds']);
const sizes = values.sizes.split(',').map(Number);

interface Candidate {
  name: string;
  /** Opens the index on the file (creating it), returns it with a close. */
  open(path: string): Promise<{ index: VectorIndex; close(): Promise<void> }>;
}

const candidates: Candidate[] = [
  {
    name: 'exact scan (int8 SIMD pass + exact re-rank)',
    async open(path) {
      const store = await openSqliteStore({ path });
      return { index: await store.vectorIndex('bench', dimensions), close: () => store.close() };
    },
  },
];
if (values['sqlite-vec']) {
  candidates.push({
    name: 'sqlite-vec 0.1.9 vec0 (cosine)',
    async open(path) {
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      SqliteVecIndex.loadExtension(db);
      return { index: SqliteVecIndex.open(db, 'bench', dimensions), close: async () => void db.close() };
    },
  });
}

function dataset(n: number): { ids: string[]; vectors: Float32Array[]; queries: Float32Array[] } {
  const random = seededRandom(42);
  const centres = Math.max(1, Math.round(n / 10));
  const centreVectors = Array.from({ length: centres }, () => randomUnitVector(random, dimensions));
  const vectors = Array.from({ length: n }, (_, i) => noisyUnitVector(random, centreVectors[i % centres]!, sigma));
  const queries = Array.from({ length: queryCount + warmUp }, () => noisyUnitVector(random, centreVectors[Math.floor(random() * centres)]!, sigma));
  return { ids: vectors.map((_, i) => `face-${i}`), vectors, queries };
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

/** Times of `count` sequential searches at k, and the share whose first answer is the true nearest. */
async function timeQueries(index: VectorIndex, queries: Float32Array[], truth: number[], k: number): Promise<{ times: number[]; recall1: number }> {
  for (const q of queries.slice(0, warmUp)) await index.search(q, k);
  const times: number[] = [];
  let hits = 0;
  for (const [i, q] of queries.slice(warmUp).entries()) {
    const t = performance.now();
    const found = await index.search(q, k);
    times.push(performance.now() - t);
    if (found[0]?.id === `face-${truth[i]}`) hits++;
  }
  return { times: times.sort((a, b) => a - b), recall1: hits / (queries.length - warmUp) };
}

/** Search load with HTTP health checks answered by the same event loop. */
async function underLoad(index: VectorIndex, queries: Float32Array[]): Promise<{ searchesPerS: number; searchP99: number; health: number[] }> {
  const server = createServer((req, res) => res.end(req.url === '/health' ? 'ok' : ''));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const health: number[] = [];
  const searchTimes: number[] = [];
  const deadline = performance.now() + loadSeconds * 1000;
  let next = 0;
  const clients = Array.from({ length: loadClients }, async () => {
    while (performance.now() < deadline) {
      // each search starts from the event loop, as one started by a request or a message would
      await new Promise((resolve) => setImmediate(resolve));
      const t = performance.now();
      await index.search(queries[next++ % queries.length]!, 64);
      searchTimes.push(performance.now() - t);
    }
  });
  const checker = (async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await new Promise<void>((resolve, reject) => get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject));
      health.push(performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await Promise.all([...clients, checker]);
  await new Promise((resolve) => server.close(resolve));
  searchTimes.sort((a, b) => a - b);
  return { searchesPerS: searchTimes.length / loadSeconds, searchP99: percentile(searchTimes, 99), health: health.sort((a, b) => a - b) };
}

const pad = (v: string | number, w: number): string => String(v).padStart(w);
const probe = new Database(':memory:');
const sqliteVersion = probe.prepare('SELECT sqlite_version()').pluck().get() as string;
probe.close();
console.log(
  `bench:vector — ${dimensions}-d clustered unit vectors (vectors/10 centres, noise σ=${sigma} per component), ${queryCount} queries one at a time, then ${loadClients} clients searching at k=64 for ${loadSeconds} s with an HTTP /health check every 20 ms`,
);
console.log(
  `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), load average ${loadavg()[0]!.toFixed(1)} at start, better-sqlite3 SQLite ${sqliteVersion}`,
);
console.log(
  'vectors | candidate                                  | insert s | reopen ms | k=5 p50 / p99 ms | k=64 p50 / p99 ms | recall@1 | file MB | load: searches/s | search p99 ms | health p50 / p99 / max ms',
);

for (const n of sizes) {
  const { ids, vectors, queries } = dataset(n);
  const flat = new Float32Array(n * dimensions);
  vectors.forEach((v, i) => flat.set(v, i * dimensions));
  const truth = exactTopKMany(flat, dimensions, queries.slice(warmUp), 1).map((t) => t[0]!.row);
  for (const candidate of candidates) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-vector-'));
    const path = join(dir, 'bench.db');
    try {
      let { index, close } = await candidate.open(path);
      const t0 = performance.now();
      for (let i = 0; i < n; i += batch) await index.upsert(ids.slice(i, i + batch).map((id, j) => ({ id, vector: vectors[i + j]! })));
      const insertS = (performance.now() - t0) / 1000;
      await close();
      const t1 = performance.now();
      ({ index, close } = await candidate.open(path));
      await index.search(queries[0]!, 5);
      const readyMs = performance.now() - t1;
      if ((await index.count()) !== n) throw new Error(`${candidate.name}: count ${await index.count()} after inserting ${n}`);
      const k5 = await timeQueries(index, queries, truth, 5);
      const k64 = await timeQueries(index, queries, truth, 64);
      const load = await underLoad(index, queries);
      await close();
      const ms = (times: number[]): string => `${percentile(times, 50).toFixed(2)} / ${percentile(times, 99).toFixed(2)}`;
      console.log(
        `${pad(n, 7)} | ${candidate.name.padEnd(42)} | ${pad(insertS.toFixed(2), 8)} | ${pad(readyMs.toFixed(0), 9)} | ${pad(ms(k5.times), 16)} | ${pad(ms(k64.times), 17)} | ${pad(Math.min(k5.recall1, k64.recall1).toFixed(3), 8)} | ${pad(fileMb(path).toFixed(1), 7)} | ${pad(load.searchesPerS.toFixed(0), 16)} | ${pad(load.searchP99.toFixed(1), 13)} | ${pad(`${percentile(load.health, 50).toFixed(1)} / ${percentile(load.health, 99).toFixed(1)} / ${load.health.at(-1)!.toFixed(1)}`, 25)}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
