import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { Topic } from '@facewatch/core';
import { installReadCommittedFix } from '@facewatch/kafka';

// Exactly-once across rebalances, against a real broker: group members as separate processes
// (bus-member.ts: one result and one alert per image, in the bus's transactions) join, leave
// cleanly, are killed with SIGKILL and paused past their session (a zombie that wakes up and tries
// to go on) while a burst of images is worked through; a read_committed reader must then find
// every image's result and alert exactly once.
const brokers = process.env['KAFKA_BROKERS'];
assert.ok(brokers, 'KAFKA_BROKERS is not set: start the services (scripts/services.sh up) — these tests never skip');
// the readers here are plain kafkajs consumers: without the fix, kafkajs shows them records of
// aborted transactions (read-committed.ts)
installReadCommittedFix();
const kafka = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const memberScript = join(dirname(fileURLToPath(import.meta.url)), 'bus-member.js');
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

interface Member {
  name: string;
  child: ChildProcess;
  /** Event ids this member's handler finished (at-least-once: a redone chunk counts twice). */
  handled: string[];
  /** The member's log records (JSON lines of its logger). */
  logs: { msg?: string; partitions?: number[] }[];
  output: () => string;
  /** Calls `then` as soon as the member reports its next handled image (it is then inside a transaction, or committing it). */
  onNextHandled: (then: () => void) => void;
  exit: Promise<number | null>;
}

function startMember(name: string, env: Record<string, string>): Member {
  const child = spawn(process.execPath, [memberScript], { env: { ...process.env, ...env, MEMBER_NAME: name }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const member: Member = {
    name,
    child,
    handled: [],
    logs: [],
    output: () => output,
    onNextHandled: (then) => waiting.push(then),
    exit: new Promise((resolve) => child.once('exit', (code) => (children.delete(child), resolve(code)))),
  };
  let output = '';
  let partial = '';
  const waiting: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('handled ')) {
        member.handled.push(line.slice('handled '.length));
        waiting.splice(0).forEach((then) => then());
      } else if (line.startsWith('{')) member.logs.push(JSON.parse(line) as Member['logs'][number]);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return member;
}

/** Polls `check` until it holds; fails with `what` and the members' output at the deadline. */
async function until(what: string, check: () => boolean, timeoutMs: number, members: Member[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${members.map((m) => `--- ${m.name}\n${m.output().slice(-3000)}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Reads a topic from its beginning as a read_committed consumer, each record once (a record the
 * reader's group delivers again is still one record on the topic); `position` is the last offset
 * read per partition.
 */
async function tap(topic: string): Promise<{ values: Record<string, unknown>[]; position: Map<number, bigint>; consumer: Consumer }> {
  const values: Record<string, unknown>[] = [];
  const read = new Set<string>();
  const position = new Map<number, bigint>();
  const consumer = kafka.consumer({ groupId: `tap-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 500 });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => position.set(payload.partition, BigInt(payload.lastOffset)));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (read.has(`${partition}:${message.offset}`)) return;
      read.add(`${partition}:${message.offset}`);
      values.push(JSON.parse(message.value!.toString('utf8')) as Record<string, unknown>);
    },
  });
  return { values, position, consumer };
}

const copies = (values: Record<string, unknown>[], key: string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(String(v[key]), (counts.get(String(v[key])) ?? 0) + 1);
  return counts;
};

test(
  'members join, leave cleanly, are killed (SIGKILL) and paused past their session during a 500-image burst: every result and every alert exactly once for read_committed readers',
  { timeout: 600_000 },
  async (t) => {
    const run = randomUUID().slice(0, 8);
    const topics: Record<Topic, string> = {
      [Topic.imageReceived]: `eos-${run}.images`,
      [Topic.imageProcessed]: `eos-${run}.results`,
      [Topic.faceMatched]: `eos-${run}.matches`,
      [Topic.deadLetter]: `eos-${run}.dlq`,
    };
    const partitions = 6;
    const env = {
      KAFKA_BROKERS: brokers,
      MEMBER_TOPICS: JSON.stringify(topics),
      MEMBER_GROUP: `eos-${run}`,
      MEMBER_PARTITIONS: String(partitions),
      MEMBER_HANDLE_MS: '80',
      MEMBER_SESSION_TIMEOUT_MS: '10000',
      MEMBER_LOG_LEVEL: 'info',
    };
    const total = 500;
    const members: Member[] = [];
    const member = async (name: string): Promise<Member> => {
      const m = startMember(name, env);
      members.push(m);
      await until(
        `${name} ready`,
        () => {
          if (m.child.exitCode !== null) throw new Error(`${name} exited ${m.child.exitCode}:\n${m.output()}`);
          return /^ready$/m.test(m.output());
        },
        60_000,
        members,
      );
      return m;
    };
    const m1 = await member('m1'); // creates the topics
    const m2 = await member('m2');
    const results = await tap(topics[Topic.imageProcessed]);
    const alerts = await tap(topics[Topic.faceMatched]);
    const done = (): number => copies(results.values, 'event_id').size;

    // the burst: 500 images published at about 25 a second (the members handle more), so the
    // membership changes below fall in its middle
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const ids = Array.from({ length: total }, (_, i) => `img-${String(i).padStart(3, '0')}`);
    const publishing = (async () => {
      for (let i = 0; i < total; i += 5) {
        const next = Date.now() + 200;
        await producer.send({
          topic: topics[Topic.imageReceived],
          acks: -1,
          messages: ids.slice(i, i + 5).map((id) => ({
            key: id,
            value: JSON.stringify({
              event_id: id,
              source: 'kafka',
              identifier: `${id}.jpg`,
              image: { kind: 'bytes', bytes_base64: Buffer.from(id).toString('base64') },
              received_at: new Date().toISOString(),
            }),
          })),
        });
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
      await producer.disconnect();
    })();

    // the membership changes, each at a point of the burst
    const at: Record<string, number> = {};
    const signalAfterNextHandled = (m: Member, signal: NodeJS.Signals): Promise<void> =>
      new Promise((resolve) =>
        m.onNextHandled(() => {
          m.child.kill(signal);
          resolve();
        }),
      );
    await until('75 results', () => done() >= 75, 120_000, members);
    at['m3 joins'] = done();
    const m3 = await member('m3');
    await until('150 results', () => done() >= 150, 120_000, members);
    at['m1 leaves'] = done();
    m1.child.kill('SIGTERM');
    assert.equal(await m1.exit, 0, `m1 left cleanly:\n${m1.output().slice(-3000)}`);
    await until('225 results', () => done() >= 225, 120_000, members);
    at['m2 killed'] = done();
    await signalAfterNextHandled(m2, 'SIGKILL'); // inside a transaction, or committing one
    await m2.exit;
    const m4 = await member('m4');
    await until('300 results', () => done() >= 300, 120_000, members);
    // m3 stops mid-transaction (a long pause: GC, a frozen VM) for longer than its session: the
    // group gives its partitions to m4; then m3 wakes up and carries on where it was
    at['m3 paused'] = done();
    await signalAfterNextHandled(m3, 'SIGSTOP');
    const assignmentsBefore = m4.logs.length;
    await until(
      'm4 owning every partition',
      () => m4.logs.slice(assignmentsBefore).some((l) => l.msg === 'partitions assigned; taking them over' && l.partitions?.length === partitions),
      60_000,
      members,
    );
    m3.child.kill('SIGCONT');
    await until('425 results', () => done() >= 425, 120_000, members);
    at['m3 leaves'] = done();
    m3.child.kill('SIGTERM');
    assert.equal(await m3.exit, 0, `m3 left cleanly:\n${m3.output().slice(-3000)}`);

    await publishing;
    await until(`${total} distinct results and alerts`, () => done() >= total && copies(alerts.values, 'alert_id').size >= total, 240_000, members);
    m4.child.kill('SIGTERM');
    assert.equal(await m4.exit, 0, `m4 left cleanly:\n${m4.output().slice(-3000)}`);

    // Nobody writes any more: read both output topics to their end, so a late copy would be counted.
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const [topic, reader] of [
        [topics[Topic.imageProcessed], results],
        [topics[Topic.faceMatched], alerts],
      ] as const) {
        const ends = await admin.fetchTopicOffsets(topic);
        await until(
          `the end of ${topic}`,
          () => ends.every(({ partition, high }) => high === '0' || (reader.position.get(partition) ?? -1n) >= BigInt(high) - 1n),
          120_000,
          members,
        );
      }
      // and the group committed every image
      const inputEnds = await admin.fetchTopicOffsets(topics[Topic.imageReceived]);
      const [committed] = await admin.fetchOffsets({ groupId: env.MEMBER_GROUP, topics: [topics[Topic.imageReceived]] });
      assert.deepEqual(committed!.partitions.map((p) => `${p.partition}:${p.offset}`).sort(), inputEnds.map((p) => `${p.partition}:${p.high}`).sort());
    } finally {
      await admin.disconnect();
    }
    await Promise.all([results.consumer.disconnect(), alerts.consumer.disconnect()]);

    const handled = Object.fromEntries(members.map((m) => [m.name, m.handled.length]));
    const logged = (msg: string): Record<string, number> => Object.fromEntries(members.map((m) => [m.name, m.logs.filter((l) => l.msg === msg).length]));
    t.diagnostic(`results seen at each change: ${JSON.stringify(at)}`);
    t.diagnostic(`handler runs per member (a redone chunk counts again): ${JSON.stringify(handled)}, ${Object.values(handled).reduce((a, b) => a + b, 0)} in all`);
    t.diagnostic(
      `positions moved past what a previous owner had committed: ${JSON.stringify(logged('messages the previous owner handled are skipped'))}; fenced: ${JSON.stringify(logged('another member took the partition over; re-joining the group'))}`,
    );
    t.diagnostic(`results on the topic: ${results.values.length} for ${total} images; alerts: ${alerts.values.length} for ${total} alert ids`);
    // every membership change happened mid-burst, and every member did some of the work
    assert.ok(
      Object.values(at).every((n) => n < total),
      `changes mid-burst: ${JSON.stringify(at)}`,
    );
    assert.ok(
      members.every((m) => m.handled.length > 0),
      `every member worked: ${JSON.stringify(handled)}`,
    );
    // exactly once: every image's result and alert, each one time
    const resultCopies = copies(results.values, 'event_id');
    const alertCopies = copies(alerts.values, 'alert_id');
    assert.deepEqual([...resultCopies.keys()].sort(), ids);
    assert.deepEqual(
      [...alertCopies.keys()].sort(),
      ids.map((id) => `alert-${id}`),
    );
    assert.deepEqual(
      [...resultCopies, ...alertCopies].filter(([, n]) => n !== 1),
      [],
      'no output twice',
    );
    assert.equal(results.values.length, total);
    assert.equal(alerts.values.length, total);
  },
);
