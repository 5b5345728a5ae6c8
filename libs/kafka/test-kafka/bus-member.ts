// One member of a consumer group, as its own process, for the exactly-once test
// (exactly-once.test.ts): it subscribes to the images topic and, for every image, publishes one
// result and one alert (a deterministic handler that takes MEMBER_HANDLE_MS). stdout lines:
// `ready` once it consumes, `handled <event id>` after each handler run, `closed` after a clean
// leave (SIGTERM), and its log records as JSON lines. Not a test file: the runner only picks up
// *.test.js.
import { createLogger, Topic } from '@facewatch/core';
import { KafkaBus } from '@facewatch/kafka';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const handleMs = Number(env('MEMBER_HANDLE_MS'));
const log = createLogger({ level: env('MEMBER_LOG_LEVEL') as 'info', name: `bus-member-${env('MEMBER_NAME')}` });
const bus = await KafkaBus.start({
  brokers: env('KAFKA_BROKERS').split(','),
  clientId: `member-${env('MEMBER_NAME')}`,
  log,
  topicNames: JSON.parse(env('MEMBER_TOPICS')) as Record<Topic, string>,
  partitions: Number(env('MEMBER_PARTITIONS')),
  replicationFactor: 1,
  maxMessageBytes: 1024 * 1024,
  retryInitialMs: 50,
  retryMaxMs: 500,
  sessionTimeoutMs: Number(env('MEMBER_SESSION_TIMEOUT_MS')),
});
const subscription = await bus.subscribe(Topic.imageReceived, { group: env('MEMBER_GROUP'), concurrency: 2 }, async (e) => {
  await new Promise((r) => setTimeout(r, handleMs));
  const at = new Date().toISOString();
  await bus.publish(Topic.imageProcessed, e.event_id, {
    event_id: e.event_id,
    image_id: e.event_id,
    source: e.source,
    identifier: e.identifier,
    face_count: 1,
    matched: true,
    error: null,
    processed_at: at,
  });
  await bus.publish(Topic.faceMatched, `alert-${e.event_id}`, {
    alert_id: `alert-${e.event_id}`,
    image_id: e.event_id,
    face_index: 0,
    person_id: 'p1',
    name: 'someone',
    distance: 0.3,
    threshold: 0.5,
    identity: 'blacklist_db/someone/1.jpg',
    facial_area: { x: 1, y: 2, w: 3, h: 4 },
    identifier: e.identifier,
    processed_at: at,
  });
  process.stdout.write(`handled ${e.event_id}\n`);
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void (async () => {
    await subscription.close();
    await bus.close();
    process.stdout.write('closed\n');
    process.exit(0);
  })();
});
