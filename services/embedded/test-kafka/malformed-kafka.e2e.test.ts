import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { installReadCommittedFix } from '@facewatch/kafka';
import { identityImages } from '@facewatch/face/testing';
import { expectedFor, pathCases } from '../test/corpus/api-cases.js';
import { malformedImages, type MalformedImage } from '../test/corpus/images.js';
import { eventually, startScaleProcesses, type RunningProfile } from '../test/launch.js';

// The malformed-input corpus through Kafka (issue #13): the scale profile's matcher reads an images
// topic that an outside producer fills with every broken image of the corpus (as bytes), hostile
// server paths and private URLs (as references), and messages that are not events at all (not
// JSON, the wrong shape, broken registry framing, empty). Each must end where it belongs — an
// image in a result with its error (and in the dead-letter topic), a message that is not an event
// in the dead-letter topic with INVALID_ARGUMENT and its source offset — exactly once, and good
// images sent among them must still be matched.

const brokers = process.env['KAFKA_BROKERS'];
assert.ok(brokers && process.env['DATABASE_URL'], 'KAFKA_BROKERS and DATABASE_URL must be set (scripts/services.sh up) — these tests never skip');
installReadCommittedFix(); // the taps below are plain kafkajs consumers reading transactional topics

const run = randomUUID().slice(0, 8);
const topics = { images: `corpus-${run}.images`, results: `corpus-${run}.results`, matches: `corpus-${run}.matches`, dlq: `corpus-${run}.dlq` };
const kafka = new Kafka({ brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
let app: RunningProfile;
let producer: Producer;
let work: string;
let root: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'facewatch-kafka-corpus-'));
  root = join(work, 'paths');
  mkdirSync(root);
  app = await startScaleProcesses({
    KAFKA_TOPIC_IMAGES: topics.images,
    KAFKA_TOPIC_RESULTS: topics.results,
    KAFKA_TOPIC_MATCHES: topics.matches,
    KAFKA_TOPIC_DLQ: topics.dlq,
    IMAGE_PATH_ROOTS: root,
    MAX_IMAGE_BYTES: String(8 * 1024 * 1024),
    MAX_IMAGE_PIXELS: '20000000',
  });
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await app?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Tap {
  records: { partition: number; offset: string; key: string | null; headers: Record<string, string>; value: any }[];
  consumer: Consumer;
}

/** Every record of `topic` from the beginning, read committed, each once. */
async function tap(topic: string): Promise<Tap> {
  const records: Tap['records'] = [];
  const seen = new Set<string>();
  const consumer = kafka.consumer({ groupId: `tap-${randomUUID()}`, maxBytesPerPartition: 16 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (seen.has(`${partition}:${message.offset}`)) return;
      seen.add(`${partition}:${message.offset}`);
      // with the schema registry, payloads are framed: magic byte 0 and a 4-byte schema id before the JSON
      const value = message.value![0] === 0 ? message.value!.subarray(5) : message.value!;
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
      records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, headers, value: JSON.parse(value.toString('utf8')) });
    },
  });
  return { records, consumer };
}

interface KafkaCase {
  name: string;
  category: string;
  /** The message value as the producer sends it (null: a tombstone). */
  value: Buffer | null;
  /** Headers of the message (binary image messages). */
  headers?: Record<string, string>;
  /** An event's id: its result is looked up by it; absent for messages that are not events. */
  eventId?: string;
  /** A binary image without an event id: the matcher names it `<topic>:<partition>:<offset>`. */
  idFromOffset?: boolean;
  /** Right outcomes: error codes of the result ("ok" for none), or "dlq INVALID_ARGUMENT". */
  expect: readonly string[];
}

const event = (eventId: string, image: unknown, extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(JSON.stringify({ event_id: eventId, source: 'kafka', identifier: `${eventId}.jpg`, image, received_at: new Date().toISOString(), ...extra }));
const codesOf = (answers: readonly string[]): string[] => answers.map((a) => (a === '200' ? 'ok' : a.split(' ')[1]!));

function imageCases(images: readonly MalformedImage[]): KafkaCase[] {
  return images.map((image, i) => {
    const eventId = `img-${i}`;
    return {
      name: image.name,
      category: `image ${image.kind}`,
      eventId,
      value: event(eventId, { kind: 'bytes', bytes_base64: image.bytes.toString('base64') }),
      expect: codesOf(expectedFor(image)),
    };
  });
}

function referenceCases(good: Awaited<ReturnType<typeof malformedImages>>['good'], goodFile: string): KafkaCase[] {
  // the API corpus's hostile paths, as path references in events
  const paths = pathCases(root, good, goodFile).map((c, i): KafkaCase => {
    const eventId = `path-${i}`;
    const { image } = JSON.parse(String(c.body)) as { image: string };
    return { name: c.name, category: 'path reference', eventId, value: event(eventId, { kind: 'path', path: image }), expect: codesOf(c.expect) };
  });
  const urls = [
    'http://127.0.0.1:9/x.jpg',
    'http://10.0.0.1/x.jpg',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/x.jpg',
    'http://localhost/x.jpg',
    'ftp://127.0.0.1/x.jpg',
    'file:///etc/passwd',
  ].map((url, i): KafkaCase => ({ name: url, category: 'url reference', eventId: `url-${i}`, value: event(`url-${i}`, { kind: 'url', url }), expect: ['URL_NOT_ALLOWED'] }));
  const base64 = ['not base64 at all!', 'data:image/jpeg;base64,', 'data:text/html;base64,PGgxPg==', '////'].map((data, i): KafkaCase => ({
    name: `base64 ${data}`,
    category: 'base64 reference',
    eventId: `b64-${i}`,
    value: event(`b64-${i}`, { kind: 'base64', data }),
    expect: ['INVALID_ARGUMENT', 'INVALID_BASE64', 'IMAGE_CORRUPT', 'IMAGE_EMPTY', 'IMAGE_UNSUPPORTED_FORMAT'],
  }));
  return [...paths, ...urls, ...base64];
}

/**
 * Binary image messages (docs/events.md): the image as the message, the event's other fields in
 * the facewatch-event header or none at all. Broken images end in a result with their error;
 * broken headers in the dead-letter topic.
 */
function binaryCases(images: readonly MalformedImage[], good: Buffer): KafkaCase[] {
  const header = (eventId: string, extra: Record<string, unknown> = {}) => ({
    'facewatch-event': JSON.stringify({ event_id: eventId, source: 'kafka', identifier: `${eventId}.jpg`, received_at: new Date().toISOString(), ...extra }),
  });
  const dlq = ['dlq INVALID_ARGUMENT'];
  // every 8th broken image of the corpus, as a binary message
  const broken = images
    .filter((_, i) => i % 8 === 0)
    .map((image, i): KafkaCase => ({
      name: `binary ${image.name}`,
      category: 'binary image',
      eventId: `bin-${i}`,
      value: image.bytes,
      headers: header(`bin-${i}`),
      expect: codesOf(expectedFor(image)),
    }));
  return [
    ...broken,
    { name: 'a plain JPEG, no header', category: 'binary image', idFromOffset: true, value: good, expect: ['ok'] },
    {
      name: 'a JPEG with a partial header (options only)',
      category: 'binary image',
      idFromOffset: true,
      value: good,
      headers: { 'facewatch-event': '{"options": {"threshold": 0.5}}' },
      expect: ['ok'],
    },
    {
      name: 'text with the header',
      category: 'binary image',
      eventId: 'bin-text',
      value: Buffer.from('hello'),
      headers: header('bin-text'),
      expect: ['IMAGE_UNSUPPORTED_FORMAT', 'IMAGE_CORRUPT'],
    },
    { name: 'a JPEG, header not JSON', category: 'binary header', value: good, headers: { 'facewatch-event': '{"event_id": ' }, expect: dlq },
    { name: 'a JPEG, header a JSON array', category: 'binary header', value: good, headers: { 'facewatch-event': '[1]' }, expect: dlq },
    { name: 'a JPEG, header event_id a number', category: 'binary header', value: good, headers: header('x', { event_id: 7 }), expect: dlq },
    { name: 'a JPEG, header with an unknown field', category: 'binary header', value: good, headers: header('x', { admin: true }), expect: dlq },
    { name: 'a JPEG, header with an image reference', category: 'binary header', value: good, headers: header('x', { image: { kind: 'path', path: '/etc/passwd' } }), expect: dlq },
  ];
}

/** Messages that are not events: each goes to the dead-letter topic with INVALID_ARGUMENT. */
function messageCases(good: Buffer): KafkaCase[] {
  const dlq = ['dlq INVALID_ARGUMENT'];
  const ok = JSON.parse(event('shape', { kind: 'bytes', bytes_base64: good.toString('base64') }).toString()) as Record<string, unknown>;
  const shaped = (name: string, change: (e: Record<string, unknown>) => unknown): KafkaCase => ({
    name,
    category: 'event shape',
    value: Buffer.from(JSON.stringify(change(structuredClone(ok)))),
    expect: dlq,
  });
  const raw = (name: string, value: Buffer | null): KafkaCase => ({ name, category: 'not an event', value, expect: dlq });
  const without = (key: string) => (e: Record<string, unknown>) => {
    delete e[key];
    return e;
  };
  return [
    raw('tombstone (null value)', null),
    raw('empty value', Buffer.alloc(0)),
    raw('plain text', Buffer.from('hello')),
    raw('JSON cut short', Buffer.from('{"event_id": "x", "image": {')),
    raw('JSON null', Buffer.from('null')),
    raw('JSON number', Buffer.from('42')),
    raw('JSON string', Buffer.from('"an image"')),
    raw('JSON array', Buffer.from('[1, 2, 3]')),
    raw('JSON deeply nested', Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`)),
    raw('invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    raw('registry framing, unknown schema id', Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), Buffer.from(JSON.stringify(ok))])),
    raw('registry framing cut inside the schema id', Buffer.from([0, 0, 0])),
    raw('registry framing, no payload', Buffer.from([0, 0, 0, 0, 1])),
    shaped('empty object', () => ({})),
    shaped('no event_id', without('event_id')),
    shaped('no image', without('image')),
    shaped('no received_at', without('received_at')),
    shaped('empty event_id', (e) => ({ ...e, event_id: '' })),
    shaped('event_id of 201 characters', (e) => ({ ...e, event_id: 'x'.repeat(201) })),
    shaped('event_id a number', (e) => ({ ...e, event_id: 7 })),
    shaped('unknown source', (e) => ({ ...e, source: 'ftp' })),
    shaped('identifier of 5000 characters', (e) => ({ ...e, identifier: 'i'.repeat(5000) })),
    shaped('unknown image kind', (e) => ({ ...e, image: { kind: 'camera', id: 3 } })),
    shaped('image without kind', (e) => ({ ...e, image: { bytes_base64: 'AAAA' } })),
    shaped('bytes_base64 a number', (e) => ({ ...e, image: { kind: 'bytes', bytes_base64: 12 } })),
    shaped('image an array', (e) => ({ ...e, image: [] })),
    shaped('empty path', (e) => ({ ...e, image: { kind: 'path', path: '' } })),
    shaped('empty url', (e) => ({ ...e, image: { kind: 'url', url: '' } })),
    shaped('an extra field', (e) => ({ ...e, admin: true })),
    shaped('an extra field in the image', (e) => ({ ...e, image: { ...(e['image'] as object), path: '/etc/passwd' } })),
    shaped('sha256 not hex', (e) => ({ ...e, sha256: 'z'.repeat(64) })),
    shaped('threshold a string', (e) => ({ ...e, options: { threshold: '0.1' } })),
    shaped('unknown option', (e) => ({ ...e, options: { debug: true } })),
    shaped('received_at empty', (e) => ({ ...e, received_at: '' })),
    shaped('__proto__ key', (e) => JSON.parse(JSON.stringify(e).replace('{', '{"__proto__": {"polluted": true},'))),
  ];
}

test(
  'the malformed-input corpus through Kafka: each message ends once in its result or the dead-letter topic; good images among them are still matched',
  { timeout: 20 * 60_000 },
  async () => {
    const photo = identityImages().find((i) => i.person === 'sheldon')!.path;
    const { good, images } = await malformedImages(photo, 1313);
    const goodCases: KafkaCase[] = Array.from({ length: 12 }, (_, i) => ({
      name: `good ${i}`,
      category: 'good image',
      eventId: `good-${i}`,
      value: event(`good-${i}`, { kind: 'bytes', bytes_base64: good.jpeg.toString('base64') }),
      expect: ['ok'],
    }));
    const bad = [...imageCases(images), ...referenceCases(good, photo), ...messageCases(good.jpeg), ...binaryCases(images, good.jpeg)];
    // good images spread among the bad, from the start to the end
    const cases = bad.flatMap((c, i) => (i % Math.ceil(bad.length / goodCases.length) === 0 ? [goodCases[i / Math.ceil(bad.length / goodCases.length)]!, c] : [c]));
    const results = await tap(topics.results);
    const deadLetters = await tap(topics.dlq);

    // one message at a time, to know each one's partition and offset
    const at = new Map<string, KafkaCase>();
    for (const [i, c] of cases.entries()) {
      const [meta] = await producer.send({ topic: topics.images, acks: -1, messages: [{ key: `case-${i}`, value: c.value, ...(c.headers ? { headers: c.headers } : {}) }] });
      at.set(`${meta!.partition}:${meta!.baseOffset}`, c);
      if (c.idFromOffset) c.eventId = `${topics.images}:${meta!.partition}:${meta!.baseOffset}`;
    }
    const events = cases.filter((c) => c.eventId !== undefined);
    const notEvents = cases.filter((c) => c.eventId === undefined);
    const resultOf = (c: KafkaCase) => results.records.filter((r) => r.value.event_id === c.eventId);
    const errored = () => results.records.filter((r) => r.value.error !== null).length;
    try {
      await eventually(
        async () => (new Set(results.records.map((r) => r.value.event_id)).size >= events.length && deadLetters.records.length >= notEvents.length + errored() ? true : undefined),
        `${events.length} results and ${notEvents.length} + the failed images' dead letters`,
        15 * 60_000,
      );
    } catch (err) {
      const missing = events.filter((c) => resultOf(c).length === 0).map((c) => c.name);
      throw new Error(
        `${(err as Error).message}; no result for ${missing.length}: ${missing.slice(0, 20).join(', ')}; ${deadLetters.records.length} dead letters\n${app.output().slice(-8000)}`,
      );
    }

    const outcomes: { category: string; outcome: string; case: KafkaCase }[] = [];
    for (const c of events) {
      const [result, ...more] = resultOf(c);
      assert.equal(more.length, 0, `${c.name}: one result, not ${more.length + 1}`);
      outcomes.push({ category: c.category, outcome: result!.value.error?.code ?? 'ok', case: c });
    }
    for (const dead of deadLetters.records.filter((r) => r.headers['facewatch-source-offset'] !== undefined)) {
      const c = at.get(`${dead.headers['facewatch-source-partition']}:${dead.headers['facewatch-source-offset']}`);
      assert.ok(c, `a dead letter from an offset nothing was sent to: ${JSON.stringify(dead.headers)}`);
      outcomes.push({ category: c.category, outcome: `dlq ${dead.value.error.code}`, case: c });
    }
    const wrong = outcomes.filter((o) => !o.case.expect.includes(o.outcome));
    const byCategory = new Map<string, Map<string, number>>();
    for (const o of outcomes) {
      const m = byCategory.get(o.category) ?? new Map<string, number>();
      m.set(o.outcome, (m.get(o.outcome) ?? 0) + 1);
      byCategory.set(o.category, m);
    }
    console.log(
      `Kafka corpus: ${cases.length} messages (${bad.length} malformed, ${goodCases.length} good)\n${[...byCategory]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([category, m]) => `  ${category}: ${[...m].map(([o, n]) => `${o} ×${n}`).join(', ')}`)
        .join('\n')}`,
    );
    assert.deepEqual(
      wrong.map((o) => `${o.case.name}: ${o.outcome} (expected ${o.case.expect.join(' | ')})`),
      [],
    );
    assert.equal(outcomes.filter((o) => o.outcome.startsWith('dlq')).length, notEvents.length, 'every message that is not an event in the dead-letter topic once');
    // failed images are parked too, keyed by their event id
    for (const o of outcomes.filter((o) => o.case.eventId !== undefined && o.outcome !== 'ok')) {
      assert.equal(deadLetters.records.filter((r) => r.key === o.case.eventId).length, 1, `${o.case.name}: one dead letter`);
    }
    for (const g of goodCases) assert.ok(resultOf(g)[0]!.value.face_count >= 1, `${g.name}: the face is found`);
    assert.match(app.output(), /matcher running/);
    // every failure above was an answer, not a crash: nothing fatal, no handler failed unexpectedly
    // (kafkajs's own error lines about a cold broker's coordinators are not failures)
    assert.doesNotMatch(app.output(), /"level":60|"msg":"matching failed"|could not start/);
    await Promise.all([results.consumer.disconnect(), deadLetters.consumer.disconnect()]);
  },
);
