import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createServer } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import sharp from 'sharp';
import { projectRoot } from '@facewatch/core';
import { identityImages, openSetPortraits, percentile, median } from '@facewatch/face/testing';

// `npm run bench:stream [images] [--no-search] [--json]`: the scale profile on real Kafka + PostgreSQL (started with
// scripts/services.sh unless KAFKA_BROKERS and DATABASE_URL are set). Prints sustained images/s
// through the Kafka path with 1 and 2 matcher processes, publish-to-alert latency, then pgvector
// search latency and recall at 100 k faces (bench:pgvector).
const count = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 300);
const withSearch = !process.argv.includes('--no-search');
/** `--json`: publish JSON events with the bytes in base64 instead of the images themselves. */
const binary = !process.argv.includes('--json');
const pacedCount = 100;
const root = projectRoot();
let env: Record<string, string> = { ...(process.env as Record<string, string>) };
let startedServices = false;
if (!env['KAFKA_BROKERS'] || !env['DATABASE_URL']) {
  const up = spawnSync('bash', [join(root, 'scripts/services.sh'), 'up', 'kafka', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) throw new Error('scripts/services.sh up failed');
  startedServices = true;
  for (const line of up.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
}
const mirror = resolve(root, '../shared/models');
env['MODELS_MIRROR'] ??= mirror;
const work = mkdtempSync(join(tmpdir(), 'facewatch-bench-stream-'));
const run = randomUUID().slice(0, 8);
const topics = { images: `bench-${run}.images`, results: `bench-${run}.results`, matches: `bench-${run}.matches`, dlq: `bench-${run}.dlq` };
env = {
  ...env,
  LOG_LEVEL: 'warn',
  PG_SCHEMA: `bench_${run}`,
  KAFKA_TOPIC_IMAGES: topics.images,
  KAFKA_TOPIC_RESULTS: topics.results,
  KAFKA_TOPIC_MATCHES: topics.matches,
  KAFKA_TOPIC_DLQ: topics.dlq,
  KAFKA_PARTITIONS: '4',
  BLACKLIST_DB_PATH: join(work, 'blacklist_db'),
  PROCESSED_IMAGES_OUTPUT_DIR: join(work, 'processed'),
};
const kafka = new Kafka({ brokers: env['KAFKA_BROKERS']!.split(','), logLevel: logLevel.NOTHING });
const children: ChildProcess[] = [];
const spawnService = (name: string, extra: Record<string, string>): ChildProcess => {
  const c = spawn(process.execPath, [resolve(root, `services/${name}/dist/main.js`)], {
    cwd: root,
    env: { ...env, ...extra, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(c);
  return c;
};
const waitFor = (c: ChildProcess, text: string): Promise<void> =>
  new Promise((res, rej) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) res();
    });
    c.once('exit', (code) => rej(new Error(`service exited ${code}`)));
  });
const freePort = (): Promise<number> =>
  new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });

const TICK_MS = 10; // Linux reports CPU time in 1/100 s
/** CPU time (user + system) a child process has used so far, in ms. */
function cpuMs(c: ChildProcess): number {
  const fields = readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
/** CPU time the whole machine has used so far (every process: matchers, broker, database, this bench), in ms. */
function machineCpuMs(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!) * TICK_MS; // all but idle and iowait
}

/** Publishes `images` (all at once, or `perSecond`) and waits for their results; images/s and publish→result latencies. */
async function measure(images: { id: string; bytes: Buffer }[], perSecond: number): Promise<{ rate: number; latency: number[] }> {
  const sentAt = new Map<string, number>();
  const latency: number[] = [];
  let results = 0;
  let last = 0;
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.results, topics.matches], fromBeginning: false });
  const done = new Promise<void>((res) => {
    void consumer.run({
      eachMessage: async ({ topic, message }) => {
        const value = message.value![0] === 0 ? message.value!.subarray(5) : message.value!;
        const event = JSON.parse(value.toString('utf8'));
        if (topic === topics.results && sentAt.has(event.identifier)) {
          latency.push(performance.now() - sentAt.get(event.identifier)!);
          results++;
          last = performance.now();
          if (results === images.length) res();
        }
      },
    });
  });
  await new Promise((r) => setTimeout(r, 3000)); // consumer group joined
  const producer = kafka.producer();
  await producer.connect();
  const first = performance.now();
  for (const [i, img] of images.entries()) {
    if (perSecond > 0) {
      const due = first + (i * 1000) / perSecond;
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    }
    sentAt.set(img.id, performance.now());
    await producer.send({
      topic: topics.images,
      messages: [
        binary
          ? // the image itself, the event in the facewatch-event header (docs/events.md)
            { key: img.id, value: img.bytes, headers: { 'facewatch-event': JSON.stringify({ event_id: img.id, identifier: img.id, options: { threshold: 0.5 } }) } }
          : {
              key: img.id,
              value: JSON.stringify({
                event_id: img.id,
                source: 'kafka',
                identifier: img.id,
                image: { kind: 'bytes', bytes_base64: img.bytes.toString('base64') },
                options: { threshold: 0.5 },
                received_at: new Date().toISOString(),
              }),
            },
      ],
    });
  }
  await done;
  await new Promise((r) => setTimeout(r, 1000));
  await producer.disconnect();
  await consumer.disconnect();
  return { rate: images.length / ((last - first) / 1000), latency };
}

try {
  // the watch-list, enrolled through the api service (8 people × 5 reference images)
  const port = await freePort();
  const api = spawnService('api', { PORT: String(port), FACE_WORKERS: '1' });
  await waitFor(api, 'listening');
  for (const person of [...new Set(identityImages().map((i) => i.person))]) {
    const form = new FormData();
    form.append('name', person);
    for (const img of identityImages().filter((i) => i.person === person)) form.append('images', new Blob([readFileSync(img.path)]), img.file);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/blacklist/`, { method: 'POST', body: form });
    if (res.status !== 201) throw new Error(`enrolment failed: ${res.status}`);
  }
  api.kill('SIGTERM');

  console.log(
    `bench:stream — ${cpus().length} cores, node ${process.version}; Kafka ${env['KAFKA_BROKERS']}, ${count} one-face colour photos (open-set identities, re-encoded as distinct JPEGs) per run, 4 partitions, published as ${binary ? 'the images themselves (binary)' : 'JSON events (base64)'}`,
  );
  console.log('matchers (workers each) | images/s (burst) | publish→result at 10 img/s: p50 ms | p95 ms | p99 ms | matcher CPU ms/image | cores busy');
  // real one-face colour photos, not 150-px crops (issue #12)
  const crops = openSetPortraits().map((path) => ({ path }));
  for (const [matchers, workers] of [
    [1, 2],
    [2, 1],
  ] as const) {
    const images: { id: string; bytes: Buffer }[] = [];
    for (let i = 0; i < count + pacedCount; i++) {
      const c = crops[i % crops.length]!;
      // distinct bytes per image and run, so every image is a new result
      images.push({
        id: `m${matchers}-${i}`,
        bytes: await sharp(readFileSync(c.path))
          .jpeg({ quality: 70 + (((i / crops.length) | 0) % 30) })
          .withMetadata({ exif: { IFD0: { ImageDescription: `m${matchers}-${i}-${run}` } } })
          .toBuffer(),
      });
    }
    const procs = Array.from({ length: matchers }, () => spawnService('matcher', { FACE_WORKERS: String(workers) }));
    await Promise.all(procs.map((p) => waitFor(p, 'matcher running')));
    // burst: everything published at once, for the sustained rate; paced: 10 images/s, for latency
    const cpuBefore = procs.map(cpuMs);
    const machineBefore = machineCpuMs();
    const burst = await measure(images.slice(0, count), 0);
    const matcherCpu = procs.map(cpuMs).reduce((a, b, i) => a + b - cpuBefore[i]!, 0);
    const machineCpu = machineCpuMs() - machineBefore;
    const burstSeconds = count / burst.rate;
    const paced = await measure(images.slice(count), 10);
    console.log(
      `${`${matchers} (${workers})`.padStart(23)} | ${burst.rate.toFixed(1).padStart(8)} | ${median(paced.latency).toFixed(0).padStart(20)} | ${percentile(paced.latency, 95).toFixed(0).padStart(6)} | ${percentile(paced.latency, 99).toFixed(0).padStart(6)} | ${(matcherCpu / count).toFixed(1).padStart(18)} | ${(machineCpu / 1000 / burstSeconds).toFixed(2).padStart(10)}`,
    );
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode === null ? p.once('exit', r) : r(null)))));
  }
  if (withSearch) console.log('pgvector search at 100 k faces (bench:pgvector):');
  if (withSearch) spawnSync(process.execPath, [resolve(root, 'libs/db/dist/bench/bench-pgvector.js'), '100000'], { env, stdio: 'inherit' });
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  if (startedServices) spawnSync('bash', [join(root, 'scripts/services.sh'), 'down'], { stdio: 'ignore' });
}
