import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { AppError, createLogger, ErrorCode, Topic, type EventMap, type ImageReceived } from '@facewatch/core';
import { installReadCommittedFix, KafkaBus, type KafkaBusOptions } from '@facewatch/kafka';

// Medium tests against a real Kafka broker (and schema registry): scripts/services.sh starts them
// and the test runner passes KAFKA_BROKERS and SCHEMA_REGISTRY_URL. Isolation: unique topic and
// group names per test.
const brokers = process.env['KAFKA_BROKERS'];
const registryUrl = process.env['SCHEMA_REGISTRY_URL'];
assert.ok(brokers, 'KAFKA_BROKERS is not set: start the services (scripts/services.sh up) — these tests never skip');
const log = createLogger({ level: 'silent' });
const buses: KafkaBus[] = [];
after(async () => {
  await Promise.all(buses.map((b) => b.close()));
});

function names(): Record<Topic, string> {
  const run = randomUUID().slice(0, 8);
  return {
    [Topic.imageReceived]: `t-${run}.images`,
    [Topic.imageProcessed]: `t-${run}.results`,
    [Topic.faceMatched]: `t-${run}.matches`,
    [Topic.deadLetter]: `t-${run}.dlq`,
  };
}

async function bus(topicNames: Record<Topic, string>, extra: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> {
  const b = await KafkaBus.start({
    brokers: brokers!.split(','),
    clientId: `test-${randomUUID().slice(0, 6)}`,
    log,
    topicNames,
    partitions: 3,
    replicationFactor: 1,
    maxMessageBytes: 4 * 1024 * 1024,
    retryInitialMs: 50,
    retryMaxMs: 200,
    ...extra,
  });
  buses.push(b);
  return b;
}

const received = (n: number, bytes = new Uint8Array([1, 2, 3, n])): ImageReceived => ({
  event_id: `e${n}`,
  source: 'kafka',
  identifier: `image-${n}.jpg`,
  image: { kind: 'bytes', bytes },
  received_at: new Date().toISOString(),
});

function collect<T extends Topic>(): { items: EventMap[T][]; handler: (e: EventMap[T]) => Promise<void>; until: (n: number) => Promise<void> } {
  const items: EventMap[T][] = [];
  return {
    items,
    handler: async (e) => {
      items.push(e);
    },
    until: async (n) => {
      const deadline = Date.now() + 30_000;
      while (items.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${items.length} of ${n} messages arrived`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

test('events round-trip through real topics (image bytes as the message itself), created with the configured partitions', async () => {
  const topics = names();
  const b = await bus(topics);
  const got = collect<typeof Topic.imageReceived>();
  await b.subscribe(Topic.imageReceived, { group: `g-${randomUUID()}` }, got.handler);
  const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
  await b.publish(Topic.imageReceived, 'k1', received(1, bytes));
  await got.until(1);
  const e = got.items[0]!;
  assert.equal(e.event_id, 'e1');
  assert.equal(e.image.kind, 'bytes');
  assert.deepEqual(e.image.kind === 'bytes' ? Buffer.from(e.image.bytes) : null, Buffer.from(bytes));
  const admin = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topics[Topic.imageReceived]] });
  await admin.disconnect();
  assert.equal(meta.topics[0]!.partitions.length, 3);
  // on the wire: the bytes as they are, the rest of the event in the facewatch-event header
  const raw = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: `raw-${randomUUID()}` });
  await raw.connect();
  await raw.subscribe({ topic: topics[Topic.imageReceived], fromBeginning: true });
  const message = await new Promise<{ value: Buffer; header: string }>((resolve) => {
    void raw.run({ eachMessage: async ({ message: m }) => resolve({ value: m.value!, header: String(m.headers!['facewatch-event']) }) });
  });
  await raw.disconnect();
  assert.deepEqual(message.value, Buffer.from(bytes));
  assert.deepEqual(JSON.parse(message.header), { event_id: 'e1', source: 'kafka', identifier: 'image-1.jpg', received_at: e.received_at });
});

test('a plain image from an outside producer (no header) becomes an event named by its topic, partition and offset', async () => {
  const topics = names();
  const b = await bus(topics);
  const got = collect<typeof Topic.imageReceived>();
  await b.subscribe(Topic.imageReceived, { group: `g-${randomUUID()}` }, got.handler);
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
  const producer = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const [sent] = await producer.send({ topic: topics[Topic.imageReceived], messages: [{ key: 'cam7/000123.jpg', value: jpeg, timestamp: '1796000000000' }] });
  await producer.disconnect();
  await got.until(1);
  const e = got.items[0]!;
  assert.equal(e.event_id, `${topics[Topic.imageReceived]}:${sent!.partition}:${sent!.baseOffset}`);
  assert.equal(e.identifier, 'cam7/000123.jpg');
  assert.equal(e.source, 'kafka');
  assert.equal(e.received_at, new Date(1796000000000).toISOString());
  assert.deepEqual(e.image.kind === 'bytes' ? Buffer.from(e.image.bytes) : null, jpeg);
});

test('a malformed message and a poison message go to the dead-letter topic; the stream keeps flowing', async () => {
  const topics = names();
  const b = await bus(topics);
  const dlq = collect<typeof Topic.deadLetter>();
  await b.subscribe(Topic.deadLetter, { group: `dlq-${randomUUID()}` }, dlq.handler);
  const handled: string[] = [];
  await b.subscribe(Topic.imageReceived, { group: `g-${randomUUID()}` }, async (e) => {
    if (e.identifier === 'poison.jpg') throw new AppError(ErrorCode.IMAGE_CORRUPT, 'cannot decode');
    handled.push(e.event_id);
  });
  const raw = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).producer();
  await raw.connect();
  await raw.send({
    topic: topics[Topic.imageReceived],
    messages: [
      { key: 'x', value: '{"not": "an event"' },
      { key: 'x', value: JSON.stringify({ event_id: 'e2' }) },
      // valid JSON nested past the stack of the encoder: parked as its bytes, not retried for ever
      { key: 'x', value: `${'['.repeat(5000)}${']'.repeat(5000)}` },
    ],
  });
  await raw.disconnect();
  await b.publish(Topic.imageReceived, 'x', { ...received(3), identifier: 'poison.jpg' });
  await b.publish(Topic.imageReceived, 'x', received(4));
  await dlq.until(4);
  const deadline = Date.now() + 30_000;
  while (!handled.includes('e4') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // a handler may run again when its transaction could not commit (a cold broker's transaction
  // coordinator still loading): handling is at-least-once, the output is what is exactly-once
  assert.deepEqual([...new Set(handled)], ['e4'], 'only the valid message reaches the handler');
  assert.deepEqual(dlq.items.map((d) => d.error.code).sort(), ['IMAGE_CORRUPT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
  assert.equal(
    dlq.items.filter((d) => (d.payload as { undecodable_base64?: string } | null)?.undecodable_base64 === Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`).toString('base64'))
      .length,
    1,
    'the deep one as bytes',
  );
  assert.ok(dlq.items.every((d) => d.topic === topics[Topic.imageReceived]));
  const poison = dlq.items.find((d) => d.error.code === 'IMAGE_CORRUPT')!;
  assert.equal((poison.payload as { identifier: string }).identifier, 'poison.jpg');
  const undecodable = dlq.items.find((d) => (d.payload as { undecodable_base64?: string } | null)?.undecodable_base64);
  assert.equal(Buffer.from((undecodable!.payload as { undecodable_base64: string }).undecodable_base64, 'base64').toString(), '{"not": "an event"');
});

test("a chunk's outputs that together pass the topics' message limit are sent in several requests, all committed", async () => {
  const topics = names();
  // 64 KB messages at most. 16 small seed events are handled in one chunk, and each handler
  // publishes a 20 KB image (27 KB in base64): in one request, the chunk's outputs would be
  // refused by the broker for ever
  const b = await bus(topics, { maxMessageBytes: 64 * 1024 });
  const big = new Set<string>();
  const bytes = new Uint8Array(20_000).map((_, i) => i % 251);
  await b.subscribe(Topic.imageReceived, { group: `g-${randomUUID()}`, concurrency: 4 }, async (e) => {
    if (e.identifier.startsWith('seed')) await b.publish(Topic.imageReceived, 'big', { ...received(Number(e.event_id.slice(1)), bytes), identifier: `big-${e.event_id}` });
    else big.add(e.identifier);
  });
  // one key: all seeds in one partition, so they are handled in one chunk
  const raw = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).producer();
  await raw.connect();
  await raw.send({
    topic: topics[Topic.imageReceived],
    messages: Array.from({ length: 16 }, (_, i) => ({ key: 'seeds', value: JSON.stringify({ ...received(i), image: { kind: 'path', path: 'x.jpg' }, identifier: `seed-${i}` }) })),
  });
  await raw.disconnect();
  const deadline = Date.now() + 60_000;
  while (big.size < 16) {
    assert.ok(Date.now() < deadline, `only ${big.size} of the 16 outputs arrived`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual([...big].sort(), Array.from({ length: 16 }, (_, i) => `big-e${i}`).sort());
});

test('a retryable failure is retried until it succeeds, and the offset is committed only after', async () => {
  const topics = names();
  const b = await bus(topics);
  const group = `g-${randomUUID()}`;
  let failures = 0;
  const handled: string[] = [];
  const sub = await b.subscribe(Topic.imageReceived, { group }, async (e) => {
    if (e.event_id === 'e1' && failures < 3) {
      failures++;
      throw new AppError(ErrorCode.DB_UNAVAILABLE, 'database down');
    }
    handled.push(e.event_id);
  });
  await b.publish(Topic.imageReceived, 'same-key', received(1));
  await b.publish(Topic.imageReceived, 'same-key', received(2));
  const deadline = Date.now() + 30_000;
  while (new Set(handled).size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(failures, 3);
  assert.deepEqual([...new Set(handled)], ['e1', 'e2'], 'same key, same partition: order kept, nothing skipped');
  await sub.close();
  // a new member of the same group finds everything committed: nothing is redelivered
  const again: string[] = [];
  await b.subscribe(Topic.imageReceived, { group }, async (e) => {
    again.push(e.event_id);
  });
  await b.publish(Topic.imageReceived, 'same-key', received(3));
  const deadline2 = Date.now() + 30_000;
  while (again.length < 1 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(again, ['e3']);
});

test('two members of one group share the work; every message yields its output exactly once for a read_committed reader', async () => {
  const topics = names();
  const group = `g-${randomUUID()}`;
  // two processes' worth of members: each its own bus (own producers), as two matchers would be
  const members = [await bus(topics), await bus(topics)];
  const byMember = [0, 0];
  for (const [m, b] of members.entries()) {
    await b.subscribe(Topic.imageReceived, { group, concurrency: 2 }, async (e) => {
      byMember[m]!++;
      await b.publish(Topic.imageProcessed, e.event_id, {
        event_id: e.event_id,
        image_id: e.event_id,
        source: 'kafka',
        identifier: e.identifier,
        face_count: 0,
        matched: false,
        error: null,
        processed_at: new Date().toISOString(),
      });
    });
  }
  for (let i = 0; i < 60; i++) await members[0]!.publish(Topic.imageReceived, `key-${i}`, received(i));
  // every input's offset committed by the group: nothing more will be written
  const admin = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const inputEnds = await admin.fetchTopicOffsets(topics[Topic.imageReceived]);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topics[Topic.imageReceived]] });
    if (inputEnds.every((end) => committed!.partitions.find((p) => p.partition === end.partition)?.offset === end.high)) break;
    assert.ok(Date.now() < deadline, 'the group did not commit every message in time');
    await new Promise((r) => setTimeout(r, 50));
  }
  const resultEnds = await admin.fetchTopicOffsets(topics[Topic.imageProcessed]);
  await admin.disconnect();
  // the whole results topic, as a read_committed reader sees it
  const reader = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: `r-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 500 });
  const results = new Map<string, number>();
  const read = new Set<string>(); // a record delivered again is still one record on the topic
  const position = new Map<number, bigint>();
  reader.on(reader.events.END_BATCH_PROCESS, ({ payload }) => position.set(payload.partition, BigInt(payload.lastOffset)));
  await reader.connect();
  await reader.subscribe({ topic: topics[Topic.imageProcessed], fromBeginning: true });
  await reader.run({
    eachMessage: async ({ partition, message }) => {
      if (read.has(`${partition}:${message.offset}`)) return;
      read.add(`${partition}:${message.offset}`);
      const id = (JSON.parse(message.value!.toString('utf8')) as { event_id: string }).event_id;
      results.set(id, (results.get(id) ?? 0) + 1);
    },
  });
  const readDeadline = Date.now() + 30_000;
  while (!resultEnds.every(({ partition, high }) => high === '0' || (position.get(partition) ?? -1n) >= BigInt(high) - 1n)) {
    assert.ok(Date.now() < readDeadline, 'the reader did not reach the end of the results topic in time');
    await new Promise((r) => setTimeout(r, 50));
  }
  await reader.disconnect();
  assert.equal(results.size, 60, 'every message produced its result');
  assert.ok([...results.keys()].every((id) => /^e\d+$/.test(id)));
  assert.deepEqual(
    [...results.values()].filter((n) => n !== 1),
    [],
    'each result once',
  );
  assert.ok(byMember[0]! > 0 && byMember[1]! > 0, `both members worked: ${byMember.join(' / ')}`);
});

test('a read_committed reader sees no aborted transaction, also when two end in the reverse order of their start', async () => {
  installReadCommittedFix(); // what KafkaBus does; this test reads with plain kafkajs
  const k = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
  const topic = names()[Topic.imageProcessed];
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  const [a, b] = ['a', 'b'].map((id) => k.producer({ transactionalId: `${topic}-${id}`, idempotent: true, maxInFlightRequests: 1 }));
  await Promise.all([a!.connect(), b!.connect()]);
  const ta = await a!.transaction();
  await ta.send({ topic, messages: [{ value: 'a1 aborted' }] });
  const tb = await b!.transaction();
  await tb.send({ topic, messages: [{ value: 'b1 aborted' }] });
  await tb.abort();
  await ta.send({ topic, messages: [{ value: 'a2 aborted' }] });
  await ta.abort();
  const ta2 = await a!.transaction();
  await ta2.send({ topic, messages: [{ value: 'a3 committed' }] });
  await ta2.commit();
  await Promise.all([a!.disconnect(), b!.disconnect()]);
  const [end] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const seen: string[] = [];
  let position = -1n;
  const reader = k.consumer({ groupId: `r-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  reader.on(reader.events.END_BATCH_PROCESS, ({ payload }) => (position = BigInt(payload.lastOffset)));
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
  const deadline = Date.now() + 30_000;
  while (position < BigInt(end!.high) - 1n) {
    assert.ok(Date.now() < deadline, 'the reader did not reach the end of the topic in time');
    await new Promise((r) => setTimeout(r, 50));
  }
  await reader.disconnect();
  assert.deepEqual(seen, ['a3 committed']); // kafkajs 2.2.4 alone: a1 too
});

test('with the schema registry: schemas registered, payloads framed and validated', async () => {
  assert.ok(registryUrl, 'SCHEMA_REGISTRY_URL is not set: start the services (scripts/services.sh up)');
  const topics = names();
  const b = await bus(topics, { registryUrl });
  const got = collect<typeof Topic.faceMatched>();
  await b.subscribe(Topic.faceMatched, { group: `g-${randomUUID()}` }, got.handler);
  const alert: EventMap[typeof Topic.faceMatched] = {
    alert_id: 'a'.repeat(32),
    image_id: 'b'.repeat(32),
    face_index: 0,
    person_id: 'p1',
    name: 'raj',
    distance: 0.41,
    threshold: 0.63,
    identity: 'blacklist_db/raj/raj1.png',
    facial_area: { x: 1, y: 2, w: 3, h: 4 },
    identifier: 'x.jpg',
    processed_at: new Date().toISOString(),
  };
  await b.publish(Topic.faceMatched, alert.alert_id, alert);
  await got.until(1);
  assert.deepEqual(got.items[0], alert);
  // the wire message is Confluent-framed: magic byte 0 and a 4-byte schema id
  const consumer = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: `raw-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics[Topic.faceMatched], fromBeginning: true });
  const first = await new Promise<Buffer>((resolve) => {
    void consumer.run({ eachMessage: async ({ message }) => resolve(message.value!) });
  });
  await consumer.disconnect();
  assert.equal(first[0], 0);
  assert.ok(first.readUInt32BE(1) > 0);
  const res = await fetch(`${registryUrl}/subjects/${encodeURIComponent(`${topics[Topic.faceMatched]}-value`)}/versions/latest`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { schemaType: string }).schemaType, 'JSON');
});

test('processes that start at the same moment all register the same new schemas (the registry refuses the racing ones once)', async () => {
  assert.ok(registryUrl, 'SCHEMA_REGISTRY_URL is not set: start the services (scripts/services.sh up)');
  const topics = names();
  const started = await Promise.allSettled(Array.from({ length: 4 }, () => bus(topics, { registryUrl })));
  assert.deepEqual(
    started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'started')),
    ['started', 'started', 'started', 'started'],
  );
  const ids = await Promise.all(
    Object.values(topics).map(async (t) => ((await (await fetch(`${registryUrl}/subjects/${encodeURIComponent(`${t}-value`)}/versions`)).json()) as number[]).length),
  );
  assert.deepEqual(ids, [1, 1, 1, 1], 'one version per subject');
});

test('two deployments that share a group id on one broker, each with its own topics, both get all their events', async () => {
  const group = `shared-${randomUUID()}`;
  const [a, b] = [names(), names()];
  const [busA, busB] = [await bus(a), await bus(b)];
  const [gotA, gotB] = [collect<typeof Topic.imageReceived>(), collect<typeof Topic.imageReceived>()];
  await busA.subscribe(Topic.imageReceived, { group }, gotA.handler);
  await busB.subscribe(Topic.imageReceived, { group }, gotB.handler);
  for (let n = 1; n <= 12; n++) {
    await busA.publish(Topic.imageReceived, `key-${n}`, received(n));
    await busB.publish(Topic.imageReceived, `key-${n}`, received(100 + n));
  }
  // every partition of both topics has an owner that reads it (kafkajs's round robin gave each
  // member partitions of the other's topic, which then stalled)
  await gotA.until(12);
  await gotB.until(12);
  assert.deepEqual(new Set(gotA.items.map((e) => e.event_id)).size, 12);
  assert.deepEqual(new Set(gotB.items.map((e) => e.event_id)).size, 12);
});
