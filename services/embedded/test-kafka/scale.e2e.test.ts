import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import sharp from 'sharp';
import { projectRoot } from '@facewatch/core';
import { installReadCommittedFix } from '@facewatch/kafka';
import { fixturesDir, groupPhotos, identityImages } from '@facewatch/face/testing';
import { eventually, freePort } from '../test/launch.js';

// End-to-end on the scale profile: the api and two matchers as separate processes on a real Kafka
// broker (with the schema registry) and PostgreSQL + pgvector, isolated by unique topic names and a
// unique PostgreSQL schema. Images are published to the images topic as an external producer would.
const brokers = process.env['KAFKA_BROKERS'];
const databaseUrl = process.env['DATABASE_URL'];
assert.ok(brokers && databaseUrl, 'KAFKA_BROKERS and DATABASE_URL must be set (scripts/services.sh up) — these tests never skip');

const run = randomUUID().slice(0, 8);
const topics = { images: `e2e-${run}.images`, results: `e2e-${run}.results`, matches: `e2e-${run}.matches`, dlq: `e2e-${run}.dlq` };
const work = mkdtempSync(join(tmpdir(), 'facewatch-scale-'));
const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  LOG_LEVEL: 'info',
  KAFKA_BROKERS: brokers!,
  DATABASE_URL: databaseUrl!,
  PG_SCHEMA: `e2e_${run}`,
  KAFKA_TOPIC_IMAGES: topics.images,
  KAFKA_TOPIC_RESULTS: topics.results,
  KAFKA_TOPIC_MATCHES: topics.matches,
  KAFKA_TOPIC_DLQ: topics.dlq,
  KAFKA_PARTITIONS: '4',
  FACE_WORKERS: '1',
  BLACKLIST_DB_PATH: join(work, 'blacklist_db'),
  PROCESSED_IMAGES_OUTPUT_DIR: join(work, 'processed'),
  IMAGE_PATH_ROOTS: fixturesDir(),
};
mkdirSync(env['BLACKLIST_DB_PATH']!, { recursive: true });
// the readers here are plain kafkajs consumers: without the fix, kafkajs shows them records of
// aborted transactions (libs/kafka/src/read-committed.ts)
installReadCommittedFix();
const kafka = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
const children = new Set<ChildProcess>();
let apiUrl = '';
const logs: string[] = [];

function startService(name: 'api' | 'matcher', extra: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [resolve(projectRoot(), `services/${name}/dist/main.js`)], {
    cwd: projectRoot(),
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => logs.push(`[${name} ${child.pid}] ${d}`));
  child.stderr!.on('data', (d: Buffer) => logs.push(`[${name} ${child.pid}] ${d}`));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const started = (child: ChildProcess, line: RegExp): Promise<void> =>
  eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}:\n${logs.join('').slice(-4000)}`);
      return logs.some((l) => l.startsWith(`[matcher ${child.pid}]`) && line.test(l)) ? true : undefined;
    },
    'matcher start',
    90_000,
  ).then(() => undefined);

/**
 * Collects a topic's records (read-committed, as any subscriber would) from the beginning with a
 * fresh group, each record once (`_at`: its partition and offset); `position`: the last offset
 * read per partition.
 */
async function tap(topic: string): Promise<{ topic: string; values: any[]; position: Map<number, bigint>; consumer: Consumer }> {
  const values: any[] = [];
  const read = new Set<string>();
  const position = new Map<number, bigint>();
  const consumer = kafka.consumer({ groupId: `tap-${randomUUID()}`, maxBytesPerPartition: 64 * 1024 * 1024, readUncommitted: false });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => position.set(payload.partition, BigInt(payload.lastOffset)));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      // a record read again (the tap's own group re-delivers after a broker restart) is still one record on the topic
      const at = `${partition}:${message.offset}`;
      if (read.has(at)) return;
      read.add(at);
      // with the schema registry, payloads are Confluent-framed: magic byte 0 and a 4-byte schema id before the JSON
      const value = message.value![0] === 0 ? message.value!.subarray(5) : message.value!;
      values.push({ ...JSON.parse(value.toString('utf8')), _at: at });
    },
  });
  return { topic, values, position, consumer };
}

/** Once nothing writes to the tapped topics any more: waits until each tap has read its topic to the end, then stops it. */
async function readToEnd(...taps: Awaited<ReturnType<typeof tap>>[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const t of taps) {
      const ends = await admin.fetchTopicOffsets(t.topic);
      await eventually(
        async () => (ends.every(({ partition, high }) => high === '0' || (t.position.get(partition) ?? -1n) >= BigInt(high) - 1n) ? true : undefined),
        `the end of ${t.topic}`,
        60_000,
      );
    }
  } finally {
    await admin.disconnect();
  }
  await Promise.all(taps.map((t) => t.consumer.disconnect()));
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

before(async () => {
  const port = await freePort();
  const api = startService('api', { PORT: String(port) });
  apiUrl = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (api.exitCode !== null) throw new Error(`api exited ${api.exitCode}:\n${logs.join('').slice(-4000)}`);
      return (await fetch(`${apiUrl}/api/v1/ready`).catch(() => undefined))?.status === 200 ? true : undefined;
    },
    'api ready',
    120_000,
  );
  for (const person of [...new Set(identityImages().map((i) => i.person))]) {
    const form = new FormData();
    form.append('name', person);
    for (const img of identityImages().filter((i) => i.person === person)) form.append('images', new Blob([readFileSync(img.path)]), img.file);
    const res = await fetch(`${apiUrl}/api/v1/blacklist/`, { method: 'POST', body: form });
    assert.equal(res.status, 201, await res.text());
  }
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

test('200 images through matchers that are killed, join and leave mid-batch: every result and every alert exactly once', { timeout: 600_000 }, async (t) => {
  const m1 = startService('matcher');
  const m2 = startService('matcher');
  await Promise.all([started(m1, /matcher running/), started(m2, /matcher running/)]);

  // 200 distinct images: the 40 identity crops, each re-encoded at 5 JPEG qualities
  const crops = identityImages();
  const images: { id: string; person: string; bytes: Buffer }[] = [];
  for (const quality of [95, 90, 85, 80, 75]) {
    for (const c of crops) images.push({ id: `img-${quality}-${c.person}-${c.file}`, person: c.person, bytes: await sharp(readFileSync(c.path)).jpeg({ quality }).toBuffer() });
  }
  const results = await tap(topics.results);
  const matches = await tap(topics.matches);
  const producer = kafka.producer();
  await producer.connect();
  for (const img of images) {
    await producer.send({
      topic: topics.images,
      messages: [
        {
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
  await producer.disconnect();
  const distinct = (xs: any[], key: string): Set<string> => new Set(xs.map((x) => x[key]));
  const at: Record<string, number> = {};
  // kill one matcher in the middle of the batch, then start a replacement
  await eventually(async () => (results.values.length >= 50 ? true : undefined), '50 results', 300_000);
  at['m1 killed'] = distinct(results.values, 'event_id').size;
  m1.kill('SIGKILL');
  const m3 = startService('matcher');
  await started(m3, /matcher running/);
  // then another one leaves cleanly (SIGTERM: it finishes its chunk, commits and leaves the group)
  await eventually(async () => (distinct(results.values, 'event_id').size >= 125 ? true : undefined), '125 results', 400_000);
  at['m2 leaves'] = distinct(results.values, 'event_id').size;
  m2.kill('SIGTERM');
  assert.equal(await exited(m2), 0, 'm2 left cleanly');

  await eventually(async () => (distinct(results.values, 'event_id').size >= 200 ? true : undefined), '200 distinct results', 400_000);
  await eventually(async () => (distinct(matches.values, 'alert_id').size >= 200 ? true : undefined), '200 distinct alerts', 60_000);
  m3.kill('SIGTERM');
  assert.equal(await exited(m3), 0, 'm3 left cleanly');
  await readToEnd(results, matches); // nothing writes any more: a late copy would be counted

  const byEvent = new Map<string, any[]>();
  for (const r of results.values) byEvent.set(r.event_id, [...(byEvent.get(r.event_id) ?? []), r]);
  assert.deepEqual([...byEvent.keys()].sort(), images.map((i) => i.id).sort());
  assert.ok([...byEvent.values()].every((rs) => rs.every((r) => r.error === null && r.face_count === 1 && r.matched)));
  assert.equal(new Set(results.values.map((r) => r.image_id)).size, 200, 'one result id per image');
  const alerts = new Map<string, any>();
  for (const a of matches.values) alerts.set(a.alert_id, a);
  assert.equal(alerts.size, 200);
  const personOf = new Map(images.map((i) => [i.id, i.person]));
  for (const a of alerts.values()) assert.equal(a.name, personOf.get(a.identifier), `alert for ${a.identifier}`);
  t.diagnostic(`distinct results when m1 was killed and when m2 left: ${JSON.stringify(at)}`);
  t.diagnostic(`results on the topic: ${results.values.length} for 200 images; alerts: ${matches.values.length} for 200 distinct alert ids`);
  assert.ok(
    Object.values(at).every((n) => n < 200),
    `mid-batch: ${JSON.stringify(at)}`,
  );
  assert.equal(results.values.length, 200, 'every result exactly once');
  assert.equal(matches.values.length, 200, 'every alert exactly once');

  // the stored results: exactly one per image
  const page = (await (await fetch(`${apiUrl}/api/v1/processed-images?limit=1`)).json()) as any;
  assert.equal(page.total_items, 200);
});

test('a corrupt image and a malformed message end in the dead-letter topic; the stream keeps flowing', { timeout: 300_000 }, async () => {
  const m = startService('matcher');
  await started(m, /matcher running/);
  const dlq = await tap(topics.dlq);
  const results = await tap(topics.results);
  const producer = kafka.producer();
  await producer.connect();
  const good = readFileSync(groupPhotos()[0]!.path);
  await producer.send({
    topic: topics.images,
    messages: [
      { key: 'bad-json', value: '{"event_id": "broken"' },
      {
        key: 'corrupt',
        value: JSON.stringify({
          event_id: 'corrupt-1',
          source: 'kafka',
          identifier: 'corrupt.jpg',
          image: { kind: 'bytes', bytes_base64: good.subarray(0, 2000).toString('base64') },
          received_at: 'now',
        }),
      },
      {
        key: 'good',
        value: JSON.stringify({ event_id: 'good-1', source: 'kafka', identifier: 'good.jpg', image: { kind: 'bytes', bytes_base64: good.toString('base64') }, received_at: 'now' }),
      },
    ],
  });
  await producer.disconnect();
  await eventually(async () => (results.values.some((r) => r.event_id === 'good-1') ? true : undefined), 'good image processed', 120_000);
  await eventually(async () => (dlq.values.length >= 2 ? true : undefined), 'two dead letters', 60_000);
  await dlq.consumer.disconnect();
  await results.consumer.disconnect();
  const codes = dlq.values.map((d) => d.error.code).sort();
  assert.deepEqual(codes, ['IMAGE_CORRUPT', 'INVALID_ARGUMENT']);
  assert.equal(dlq.values.find((d) => d.error.code === 'IMAGE_CORRUPT').payload.identifier, 'corrupt.jpg');
  m.kill('SIGTERM');
});

test('the HTTP API answers the same on this profile: process-images through Kafka names every labelled face', { timeout: 300_000 }, async () => {
  const m = startService('matcher');
  await started(m, /matcher running/);
  const groups = groupPhotos();
  const res = await fetch(`${apiUrl}/api/v1/process/process-images`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: groups.map((g) => readFileSync(g.path).toString('base64')), threshold: 0.68 }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as any[];
  body.forEach((r, i) => {
    const g = groups[i]!;
    assert.equal(r.error, null);
    const faces = [...r.faces].sort((a: any, b: any) => b.facial_area.w * b.facial_area.h - a.facial_area.w * a.facial_area.h).slice(0, g.faces.length);
    faces.sort((a: any, b: any) => a.facial_area.x + a.facial_area.w / 2 - (b.facial_area.x + b.facial_area.w / 2));
    faces.forEach((f: any, j: number) => assert.equal(f.blacklist_matches[0]?.name, g.faces[j], `${g.file} face ${j}`));
  });
  m.kill('SIGTERM');
});

test('restart the broker in the middle of a batch: every result and every alert exactly once', { timeout: 600_000 }, async (t) => {
  const before = ((await (await fetch(`${apiUrl}/api/v1/processed-images?limit=1`)).json()) as any).total_items as number;
  const m1 = startService('matcher');
  const m2 = startService('matcher');
  await Promise.all([started(m1, /matcher running/), started(m2, /matcher running/)]);
  const images: { id: string; person: string; bytes: Buffer }[] = [];
  for (const quality of [70, 65, 60]) {
    for (const c of identityImages())
      images.push({ id: `rb-${quality}-${c.person}-${c.file}`, person: c.person, bytes: await sharp(readFileSync(c.path)).jpeg({ quality }).toBuffer() });
  }
  const results = await tap(topics.results);
  const matches = await tap(topics.matches);
  const producer = kafka.producer();
  await producer.connect();
  for (const img of images) {
    await producer.send({
      topic: topics.images,
      messages: [
        {
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
  await producer.disconnect();
  const mine = (xs: any[], key: string): Set<string> => new Set(xs.filter((x) => String(x.identifier ?? x.event_id).startsWith('rb-')).map((x) => x[key]));
  await eventually(async () => (mine(results.values, 'event_id').size >= 20 ? true : undefined), '20 results before the restart', 300_000);
  const restart = spawnSync('bash', [resolve(projectRoot(), 'scripts/services.sh'), 'restart', 'kafka'], { encoding: 'utf8', env: process.env });
  assert.equal(restart.status, 0, `scripts/services.sh restart kafka failed (the broker must be the one scripts/services.sh started):\n${restart.stderr}`);
  t.diagnostic(`broker restarted after ${mine(results.values, 'event_id').size} of ${images.length} results`);
  await eventually(async () => (mine(results.values, 'event_id').size >= images.length ? true : undefined), 'every result after the restart', 400_000);
  await eventually(async () => (mine(matches.values, 'alert_id').size >= images.length ? true : undefined), 'every alert after the restart', 120_000);
  m1.kill('SIGTERM');
  m2.kill('SIGTERM');
  await Promise.all([exited(m1), exited(m2)]);
  await readToEnd(results, matches); // nothing writes any more: a late copy would be counted
  const personOf = new Map(images.map((i) => [i.id, i.person]));
  const alerts = new Map<string, any>();
  for (const a of matches.values) if (String(a.identifier).startsWith('rb-')) alerts.set(a.alert_id, a);
  assert.equal(alerts.size, images.length);
  for (const a of alerts.values()) assert.equal(a.name, personOf.get(a.identifier));
  const copies = {
    results: results.values.filter((r) => String(r.event_id).startsWith('rb-')).length,
    alerts: matches.values.filter((a) => String(a.identifier).startsWith('rb-')).length,
  };
  t.diagnostic(`on the topics: ${copies.results} results and ${copies.alerts} alerts for ${images.length} images`);
  assert.deepEqual(copies, { results: images.length, alerts: images.length }, 'every result and every alert exactly once');
  const after = ((await (await fetch(`${apiUrl}/api/v1/processed-images?limit=1`)).json()) as any).total_items as number;
  assert.equal(after - before, images.length, 'one stored result per image');
});
