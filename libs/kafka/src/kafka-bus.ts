import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import kafkajs, { Kafka, logLevel, PartitionAssigners, type Admin, type Consumer, type EachBatchPayload, type Producer, type Transaction } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  AppError,
  ErrorCode,
  toAppError,
  eventJsonSchemas,
  fromWire,
  toWire,
  Topic,
  type EventBus,
  type EventMap,
  type ImageReceived,
  type SubscribeOptions,
  type Subscription,
  type Logger,
} from '@facewatch/core';
import { PartitionOwners, type PartitionOwner } from './partition-owners.js';
import { installReadCommittedFix } from './read-committed.js';
import { TopicAwareAssigner } from './topic-aware-assigner.js';

// kafkajs is CommonJS and spreads its error classes into its exports: Node cannot import them by name
const { KafkaJSProtocolError } = kafkajs;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
  /** Topic name per logical topic (configurable names). */
  topicNames: Record<Topic, string>;
  /** Partitions of topics the bus creates (existing topics are left as they are). */
  partitions: number;
  replicationFactor: number;
  /** Largest message (an image inline in `image received`). */
  maxMessageBytes: number;
  /** Confluent-compatible schema registry; when set, payloads are registered, framed and validated through it. */
  registryUrl?: string | undefined;
  /** Back-off for retryable handler failures: first delay and cap, with jitter. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** A member silent this long leaves the group and its partitions move (default 30 s; tests shorten it). */
  sessionTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A consumed message, as kafkajs hands it over. */
interface InMessage {
  key?: Buffer | null;
  value: Buffer | null;
  offset: string;
  timestamp?: string;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

/**
 * Header of a binary image message (docs/events.md): the image-received event without its bytes,
 * as JSON. Every field is optional there; see {@link binaryImageEvent}.
 */
export const EVENT_HEADER = 'facewatch-event';

/** File signatures of the formats facewatch decodes: a message starting with one is a binary image. */
const IMAGE_SIGNATURES: readonly (readonly number[])[] = [
  [0xff, 0xd8, 0xff], // JPEG
  [0x89, 0x50, 0x4e, 0x47], // PNG
  [0x47, 0x49, 0x46, 0x38], // GIF8
  [0x52, 0x49, 0x46, 0x46], // RIFF (WebP)
  [0x49, 0x49, 0x2a, 0x00], // TIFF, little-endian
  [0x4d, 0x4d, 0x00, 0x2a], // TIFF, big-endian
];

function headerText(message: InMessage, name: string): string | undefined {
  const raw = message.headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  return first === undefined ? undefined : first.toString();
}

/**
 * A message of the images topic is a binary image when it carries the event header, or when its
 * bytes start like an image (a camera publishing plain files). JSON events start with `{` (or
 * whitespace) and registry-framed ones with 0: neither is an image signature.
 */
function isBinaryImage(message: InMessage): boolean {
  // with the header, even an empty value is an (empty) image: its result says IMAGE_EMPTY
  if (headerText(message, EVENT_HEADER) !== undefined) return true;
  const value = message.value;
  return !!value && value.length > 0 && IMAGE_SIGNATURES.some((sig) => sig.every((b, i) => value[i] === b));
}

/**
 * The event of a binary image message: the header's fields, validated as a JSON event is, with
 * defaults for those missing: `event_id` `<topic>:<partition>:<offset>` (unique per arrival, the
 * same when the message is read again), `identifier` the message key (else the event id),
 * `source` kafka, `received_at` the message timestamp.
 */
function binaryImageEvent(topic: string, partition: number, message: InMessage): ImageReceived {
  let fields: Record<string, unknown> = {};
  const header = headerText(message, EVENT_HEADER);
  if (header !== undefined) {
    try {
      fields = JSON.parse(header) as Record<string, unknown>;
    } catch (err) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${EVENT_HEADER} header is not JSON: ${(err as Error).message}`, { cause: err });
    }
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${EVENT_HEADER} header is not a JSON object`);
    if ('image' in fields) throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${EVENT_HEADER} header of a binary image must not name an image: the message is the image`);
  }
  const eventId = `${topic}:${partition}:${message.offset}`;
  const timestamp = Number(message.timestamp);
  const event = fromWire(Topic.imageReceived, {
    event_id: eventId,
    source: 'kafka',
    identifier: message.key?.length ? message.key.toString('utf8') : eventId,
    received_at: new Date(Number.isFinite(timestamp) && timestamp > 0 ? timestamp : Date.now()).toISOString(),
    ...fields,
    image: { kind: 'bytes', bytes_base64: '' },
  });
  const value = message.value ?? Buffer.alloc(0);
  return { ...event, image: { kind: 'bytes', bytes: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) } };
}

/** A record a handler published inside a chunk's transaction, sent with the chunk. */
interface OutRecord {
  topic: string;
  message: { key: string; value: Buffer; headers?: Record<string, string> };
}

/**
 * The scale profile's bus on Apache Kafka (kafkajs). Publishing waits for all in-sync replicas
 * (acks -1, idempotent producer). A subscription is a consumer group member; messages are handled
 * in Kafka transactions (a chunk of up to 16 messages of one partition each): everything the
 * handlers publish (results, alerts, dead letters) and the chunk's offset commit together or not at
 * all. Each input partition has its own transactional producer with a stable id, and a member that
 * is assigned a partition initialises that producer — fencing the previous owner and letting the
 * broker complete or abort its open transaction — before it reads the partition's committed offset
 * (PartitionOwners): so read-committed readers see every handled message's output exactly once,
 * across joins, clean leaves, kills and paused members (docs/events.md). A retryable failure
 * (database or broker down) is retried with back-off and jitter, never skipped; a message that
 * cannot be decoded, or whose handler fails for good, goes to the dead-letter topic with its error
 * code and original payload, so the stream keeps flowing.
 */
export class KafkaBus implements EventBus {
  /** Kafka redelivers uncommitted messages: handlers throw retryable errors instead of swallowing them. */
  readonly redelivers = true;
  private readonly kafka: Kafka;
  private readonly partitionKafka: Kafka;
  private readonly consumers = new Set<Consumer>();
  private producer: Producer | undefined;
  private registry: SchemaRegistry | undefined;
  private readonly schemaIds = new Map<Topic, number>();
  /**
   * The transaction of the chunk being handled: what its handlers publish is collected here and
   * sent with the chunk's commit (see {@link KafkaBus.sendCollected}).
   */
  private readonly currentTransaction = new AsyncLocalStorage<{ records: OutRecord[] }>();
  /** Per work subscription: the partitions it owns and their transactional producers. */
  private readonly owners = new Set<PartitionOwners>();
  /** Reads committed offsets for the take-overs. */
  private admin: Promise<Admin> | undefined;
  private closing = false;

  private constructor(private readonly options: KafkaBusOptions) {
    installReadCommittedFix(); // this process's read_committed consumers must not see aborted outputs
    const client = (quiet: Set<string>): Kafka =>
      new Kafka({
        clientId: options.clientId,
        brokers: options.brokers,
        logLevel: logLevel.WARN,
        logCreator:
          () =>
          ({ level, log }) => {
            const { message, ...extra } = log;
            if (quiet.has(message)) return;
            if (level <= logLevel.ERROR) options.log.error({ kafka: extra }, message);
            else options.log.warn({ kafka: extra }, message);
          },
        retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
      });
    this.kafka = client(new Set());
    // the partitions' transactional producers, created anew on every assignment: a send that fails
    // after its retries aborts the whole transaction, so kafkajs's warning does not apply to them
    this.partitionKafka = client(new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']));
  }

  /** Connects, creates missing topics and registers the event schemas (with a registry). */
  static async start(options: KafkaBusOptions): Promise<KafkaBus> {
    const bus = new KafkaBus(options);
    try {
      await bus.ensureTopics();
      bus.producer = bus.kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
      await bus.producer.connect();
      if (options.registryUrl) await bus.registerSchemas(options.registryUrl);
    } catch (err) {
      await bus.close();
      throw new AppError(ErrorCode.BUS_UNAVAILABLE, `Kafka is not reachable at ${options.brokers.join(',')}: ${(err as Error).message}`, { cause: err, retryable: true });
    }
    return bus;
  }

  private async ensureTopics(): Promise<void> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = Object.values(this.options.topicNames).filter((t) => !existing.has(t));
      if (missing.length > 0) {
        await admin.createTopics({
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.options.partitions,
            replicationFactor: this.options.replicationFactor,
            configEntries: [{ name: 'max.message.bytes', value: String(this.options.maxMessageBytes) }],
          })),
        });
        await waitForLeaders(admin, missing);
        this.options.log.info({ topics: missing }, 'kafka topics created');
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async registerSchemas(host: string): Promise<void> {
    this.registry = new SchemaRegistry({ host });
    const schemas = eventJsonSchemas();
    for (const topic of Object.values(Topic)) {
      const subject = `${this.options.topicNames[topic]}-value`;
      const schema = { type: SchemaType.JSON as const, schema: JSON.stringify(schemas[topic]) };
      // Processes that start together (compose, a deployment rolling out) register the same new
      // subject at once, and the registry refuses all but one with a conflict ("a rule named
      // 'COMPATIBILITY' already exists", or a compatibility read before the winner set it);
      // registering again then finds the schema in place.
      for (let attempt = 1; ; attempt++) {
        try {
          const { id } = await this.registry.register(schema, { subject });
          this.schemaIds.set(topic, id);
          break;
        } catch (err) {
          if (attempt >= 5 || !isRegistryConflict(err)) throw err;
          this.options.log.info({ subject, attempt }, 'schema registration raced another process; registering again');
          await new Promise((r) => setTimeout(r, 100 * attempt + Math.random() * 100));
        }
      }
    }
    this.options.log.info({ registry: host }, 'event schemas registered');
  }

  private async encode<T extends Topic>(topic: T, event: EventMap[T]): Promise<Buffer> {
    const wire = toWire(topic, event);
    fromWire(topic, wire); // validate before sending: a bad event is our bug, not the consumer's
    const id = this.schemaIds.get(topic);
    return this.registry && id !== undefined ? this.registry.encode(id, wire) : Buffer.from(JSON.stringify(wire));
  }

  private async decode<T extends Topic>(topic: T, name: string, partition: number, message: InMessage): Promise<EventMap[T]> {
    const { value } = message;
    if (topic === Topic.imageReceived && isBinaryImage(message)) return binaryImageEvent(name, partition, message) as EventMap[T];
    if (!value) throw new AppError(ErrorCode.INVALID_ARGUMENT, `empty ${topic} message`);
    let data: unknown;
    try {
      // framed (magic byte 0) messages come through the registry; plain JSON otherwise
      data = this.registry && value[0] === 0 ? await this.registry.decode(value) : JSON.parse(value.toString('utf8'));
    } catch (err) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `undecodable ${topic} message: ${(err as Error).message}`, { cause: err });
    }
    return fromWire(topic, data);
  }

  publish<T extends Topic>(topic: T, key: string, event: EventMap[T]): Promise<void> {
    return this.send(topic, key, event);
  }

  private async send<T extends Topic>(topic: T, key: string, event: EventMap[T], extraHeaders?: Record<string, string>): Promise<void> {
    if (!this.producer) throw new AppError(ErrorCode.POOL_CLOSED, 'the Kafka bus is closed');
    let value: Buffer;
    let headers = extraHeaders;
    try {
      const image = topic === Topic.imageReceived ? (event as ImageReceived).image : undefined;
      if (image?.kind === 'bytes') {
        // an image's bytes travel as the message itself, the rest of the event in a header
        const { image: _bytes, ...fields } = event as ImageReceived;
        fromWire(topic, { ...fields, image: { kind: 'bytes', bytes_base64: '' } }); // validate before sending
        value = Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength);
        headers = { ...headers, [EVENT_HEADER]: JSON.stringify(fields) };
      } else value = await this.encode(topic, event);
    } catch (err) {
      // an event that cannot be encoded (it breaks its schema, or is nested past the stack) fails
      // the same way every time: not retryable, or one message would stall its partition for ever
      if (
        err instanceof RangeError ||
        err instanceof TypeError ||
        (err as Error).name === 'ConfluentSchemaRegistryValidationError' ||
        toAppError(err).code === ErrorCode.INVALID_ARGUMENT
      ) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${topic} event cannot be encoded: ${(err as Error).message}`, { cause: err });
      }
      throw new AppError(ErrorCode.BUS_UNAVAILABLE, `encoding for ${this.options.topicNames[topic]} failed: ${(err as Error).message}`, { cause: err, retryable: true });
    }
    try {
      const message = { key, value, ...(headers ? { headers } : {}) };
      const current = this.currentTransaction.getStore();
      // inside a chunk's transaction the record is only collected: it becomes visible with the
      // commit anyway, and a failed send aborts the chunk, which is handled again as a whole
      if (current) current.records.push({ topic: this.options.topicNames[topic], message });
      else await this.producer.send({ topic: this.options.topicNames[topic], acks: -1, messages: [message] });
    } catch (err) {
      const e = toAppError(err);
      if (e.code === ErrorCode.INVALID_ARGUMENT) throw e;
      throw new AppError(ErrorCode.BUS_UNAVAILABLE, `publishing to ${this.options.topicNames[topic]} failed: ${e.message}`, { cause: err, retryable: true });
    }
  }

  async subscribe<T extends Topic>(topic: T, options: SubscribeOptions, handler: (event: EventMap[T]) => Promise<void>): Promise<Subscription> {
    const name = this.options.topicNames[topic];
    const log = this.options.log.child({ topic: name, group: options.group });
    const consumer = this.kafka.consumer({
      groupId: options.group,
      partitionAssigners: [TopicAwareAssigner, PartitionAssigners.roundRobin],
      allowAutoTopicCreation: false,
      maxBytesPerPartition: this.options.maxMessageBytes,
      maxBytes: this.options.maxMessageBytes * 2,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
    });
    this.consumers.add(consumer);
    // A listener (fromBeginning false: replies, live alerts) publishes nothing: no transactions.
    // Work is handled in transactions by the partitions' owners, taken over on every assignment.
    const owners =
      options.fromBeginning === false
        ? undefined
        : new PartitionOwners({ kafka: this.partitionKafka, group: options.group, topic: name, committedOffset: (p) => this.committedOffset(options.group, name, p), log });
    if (owners) {
      this.owners.add(owners);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => owners.assign(payload.memberAssignment[name] ?? []));
    }
    // a new listener starts at the end as it is now: kafkajs resolves "latest" only at its first
    // fetch, and events published between subscribe() and that fetch would be missed
    if (options.fromBeginning === false) await this.startAtEnd(options.group, name, log);
    await consumer.connect();
    await consumer.subscribe({ topic: name, fromBeginning: options.fromBeginning ?? true });
    // resolve once the group has assigned partitions and fetching began
    const joined = new Promise<void>((resolve) => {
      const stop = consumer.on(consumer.events.FETCH_START, () => {
        stop();
        resolve();
      });
    });
    let active = 0;
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.concurrency ?? 1,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        active++;
        try {
          if (owners) await this.handleBatch(topic, name, options, owners, handler, consumer, payload, log);
          else await this.listen(topic, name, handler, consumer, payload, log);
        } finally {
          active--;
        }
      },
    });
    // (a group that takes longer to form still works: subscribe() just stops waiting for it)
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([joined, new Promise<void>((r) => (giveUp = setTimeout(r, 60_000)))]);
    clearTimeout(giveUp);
    return {
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.disconnect();
        while (active > 0) await sleep(50);
        if (owners) {
          this.owners.delete(owners);
          await owners.close();
        }
      },
    };
  }

  /** A listener's batch: each message to the handler, a failure only logged; offsets committed plainly. */
  private async listen<T extends Topic>(
    topic: T,
    name: string,
    handler: (event: EventMap[T]) => Promise<void>,
    consumer: Consumer,
    payload: EachBatchPayload,
    log: Logger,
  ): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    let handled: string | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      try {
        await handler(await this.decode(topic, name, batch.partition, message));
      } catch (err) {
        log.warn({ err, offset: message.offset }, 'listener failed on a message; skipped');
      }
      resolveOffset(message.offset);
      handled = message.offset;
    }
    if (handled === undefined) return;
    await consumer.commitOffsets([{ topic: name, partition: batch.partition, offset: (BigInt(handled) + 1n).toString() }]).catch(() => undefined);
    await heartbeat().catch(() => undefined);
  }

  /**
   * A batch of one partition's messages, handled by the partition's owner in chunks, each chunk in
   * ONE transaction with its offset (the transaction's fixed cost, about 50 ms here, is shared by
   * the chunk). Before the first chunk of an assignment, the consumer's position is checked against
   * the offset read after the take-over: kafkajs read the committed offset on joining, possibly
   * before the previous owner's last transaction was complete, and messages below the committed
   * offset are already handled. Stops at a chunk boundary when the assignment changes, the group
   * rebalances (the rebalance then waits for one chunk, not the whole batch) or the bus closes.
   */
  private async handleBatch<T extends Topic>(
    topic: T,
    name: string,
    options: SubscribeOptions,
    owners: PartitionOwners,
    handler: (event: EventMap[T]) => Promise<void>,
    consumer: Consumer,
    payload: EachBatchPayload,
    log: Logger,
  ): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    const { partition } = batch;
    const epoch = owners.epoch;
    const current = (): boolean => isRunning() && !isStale() && owners.epoch === epoch && !this.closing;
    const owner = await this.owner(owners, partition, current, heartbeat, log);
    if (!owner) return;
    if (!owner.positioned) {
      owner.positioned = true;
      const first = batch.messages[0]!.offset;
      if (owner.committed !== null && BigInt(first) < owner.committed) {
        log.info({ partition, from: first, committed: String(owner.committed) }, 'messages the previous owner handled are skipped');
        consumer.seek({ topic: name, partition, offset: String(owner.committed) });
        return;
      }
    }
    for (let i = 0; i < batch.messages.length; i += chunkSize) {
      if (!current()) return;
      const chunk = batch.messages.slice(i, i + chunkSize);
      const last = chunk[chunk.length - 1]!;
      if (!(await this.handleChunk(topic, name, options, owner, owners, chunk, (BigInt(last.offset) + 1n).toString(), handler, current, heartbeat, log))) return;
      resolveOffset(last.offset);
      await keepMembership(heartbeat, owners);
    }
  }

  /**
   * The partition's owner, once its take-over succeeded (retried with back-off); undefined when the
   * batch is no longer current. A partition without an owner belongs to an assignment this member
   * gave up: kafkajs hands it out still when its re-join failed (the coordinator was loading, say),
   * so the re-join is asked for again instead of handling the batch.
   */
  private async owner(owners: PartitionOwners, partition: number, current: () => boolean, heartbeat: () => Promise<void>, log: Logger): Promise<PartitionOwner | undefined> {
    for (let attempt = 1; ; attempt++) {
      if (!current()) return undefined;
      const owner = owners.get(partition);
      if (!owner) throw rejoin(`partition ${partition} belongs to an assignment this member gave up`);
      try {
        return await owner;
      } catch (err) {
        const delay = this.backoff(attempt);
        log.warn(
          { err: toAppError(err), partition, attempt, delayMs: delay },
          'taking the partition over failed (fencing its previous owner, reading its committed offset); retrying',
        );
        await sleep(delay / 2 + Math.random() * (delay / 2));
        await keepMembership(heartbeat, owners);
        if (current()) owners.retake(partition);
      }
    }
  }

  /**
   * Handles a chunk of one partition's messages in one transaction that also commits their offset.
   * Within the chunk, handlers run `concurrency` at a time. A retryable failure aborts the whole
   * chunk and retries it with back-off (handlers are idempotent); a message that cannot be decoded
   * or fails for good goes to the dead-letter topic inside the transaction. Returns false when the
   * batch is no longer current (the chunk is left uncommitted, for whoever owns the partition next).
   * When the producer was fenced (another member took the partition) or the transaction's outcome
   * is unknown (it could not be aborted), the assignment is given up and the member re-joins the
   * group: the next take-over reads the offset the transaction left.
   */
  private async handleChunk<T extends Topic>(
    topic: T,
    name: string,
    options: SubscribeOptions,
    owner: PartitionOwner,
    owners: PartitionOwners,
    chunk: InMessage[],
    next: string,
    handler: (event: EventMap[T]) => Promise<void>,
    current: () => boolean,
    heartbeat: () => Promise<void>,
    log: Logger,
  ): Promise<boolean> {
    const { partition, producer } = owner;
    const offsets = { consumerGroupId: options.group, topics: [{ topic: name, partitions: [{ partition, offset: next }] }] };
    const handleOne = async (message: InMessage): Promise<void> => {
      let event: EventMap[T];
      try {
        event = await this.decode(topic, name, partition, message);
      } catch (err) {
        await this.deadLetter(name, partition, message, toAppError(err), log);
        return;
      }
      try {
        await handler(event);
      } catch (err) {
        const e = toAppError(err);
        if (e.retryable) throw e;
        await this.deadLetter(name, partition, message, e, log);
      }
    };
    for (let attempt = 1; ; attempt++) {
      let tx: Transaction;
      try {
        tx = await producer.transaction();
      } catch (err) {
        throw giveUp(owners, partition, err, log);
      }
      try {
        const state = { records: [] as OutRecord[] };
        await this.currentTransaction.run(state, () => mapLimit(chunk, options.concurrency ?? 1, handleOne));
        await this.sendCollected(tx, state.records);
        await tx.sendOffsets(offsets);
        await tx.commit();
        return true;
      } catch (err) {
        const aborted = await tx.abort().then(
          () => true,
          () => false,
        );
        if (!aborted || lostOwnership(err)) throw giveUp(owners, partition, err, log);
        if (!current()) return false; // aborted: redelivered to whoever owns the partition next
        const e = toAppError(err);
        const delay = this.backoff(attempt);
        log.warn({ err: e, attempt, delayMs: delay, partition, offset: chunk[0]!.offset }, 'retryable failure; retrying');
        await sleep(delay / 2 + Math.random() * (delay / 2));
        await keepMembership(heartbeat, owners);
        if (!current()) return false;
      }
    }
  }

  /**
   * Sends a chunk's collected records in its transaction: one produce request for the chunk
   * instead of one per record (each awaited by its handler, which held a handler slot meanwhile),
   * split so that a request carries at most half the topics' message limit (with room for the
   * record overheads), and a record larger than that goes alone, as before (dead letters can be
   * as large as an image).
   */
  private async sendCollected(tx: Transaction, records: readonly OutRecord[]): Promise<void> {
    const limit = this.options.maxMessageBytes / 2;
    let batch: OutRecord[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const byTopic = new Map<string, OutRecord['message'][]>();
      for (const r of batch) {
        const messages = byTopic.get(r.topic);
        if (messages) messages.push(r.message);
        else byTopic.set(r.topic, [r.message]);
      }
      await tx.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      batch = [];
      bytes = 0;
    };
    for (const record of records) {
      const size = record.message.value.length + Buffer.byteLength(record.message.key) + JSON.stringify(record.message.headers ?? {}).length + 100;
      if (bytes + size > limit) await flush();
      batch.push(record);
      bytes += size;
    }
    await flush();
  }

  private backoff(attempt: number): number {
    return Math.min(this.options.retryMaxMs ?? 30_000, (this.options.retryInitialMs ?? 500) * 2 ** Math.min(attempt - 1, 10));
  }

  /** The group's committed offset of one partition (null: none), read through the bus's admin client. */
  private async sharedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this.admin.catch((err: unknown) => {
      this.admin = undefined;
      throw err;
    });
  }

  /**
   * Commits, for the group's partitions of `topic` that have no committed offset, the end of the
   * partition as it is now (the last stable offset: events of open transactions stay ahead).
   * A group that has members already keeps its positions.
   */
  private async startAtEnd(group: string, topic: string, log: Logger): Promise<void> {
    const admin = await this.sharedAdmin();
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const unset = ends.filter((end) => {
      const offset = committed?.partitions.find((p) => p.partition === end.partition)?.offset;
      return offset === undefined || BigInt(offset) < 0n;
    });
    if (unset.length === 0) return;
    try {
      await admin.setOffsets({ groupId: group, topic, partitions: unset.map((end) => ({ partition: end.partition, offset: end.offset })) });
    } catch (err) {
      log.debug({ err }, 'listener group has members; it keeps their positions');
    }
  }

  private async committedOffset(group: string, topic: string, partition: number): Promise<bigint | null> {
    const admin = await this.sharedAdmin();
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const offset = offsets?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || BigInt(offset) < 0n ? null : BigInt(offset);
  }

  /**
   * Parks a message that cannot be handled in the dead-letter topic, keyed by its topic, with
   * where it came from in the headers (facewatch-source-partition, facewatch-source-offset).
   */
  private async deadLetter(from: string, partition: number, message: InMessage, error: AppError, log: Logger): Promise<void> {
    const { value, offset } = message;
    let payload: unknown = null;
    if (from === this.options.topicNames[Topic.imageReceived] && isBinaryImage(message)) {
      // a binary image message: its event fields (as far as they can be read) and the bytes in base64
      let fields: unknown = {};
      try {
        fields = JSON.parse(headerText(message, EVENT_HEADER) ?? '{}');
      } catch {
        fields = { undecodable_header: headerText(message, EVENT_HEADER) };
      }
      payload = { ...(typeof fields === 'object' && fields ? fields : {}), image: { kind: 'bytes', bytes_base64: (value ?? Buffer.alloc(0)).toString('base64') } };
    } else if (value) {
      try {
        payload = this.registry && value[0] === 0 ? await this.registry.decode(value) : JSON.parse(value.toString('utf8'));
      } catch {
        payload = { undecodable_base64: value.toString('base64') };
      }
    }
    log.warn({ code: error.code, partition, offset }, `message sent to the dead-letter topic: ${error.message}`);
    const park = (parked: unknown): Promise<void> =>
      this.send(
        Topic.deadLetter,
        from,
        { error: { code: error.code, message: error.message }, payload: parked, topic: from, failed_at: new Date().toISOString() },
        { 'facewatch-source-partition': String(partition), 'facewatch-source-offset': offset },
      );
    try {
      await park(payload);
    } catch (err) {
      // a payload that decodes but cannot be encoded again (JSON nested thousands deep) is parked as its bytes
      if (!value || toAppError(err).code !== ErrorCode.INVALID_ARGUMENT) throw err;
      await park({ undecodable_base64: value.toString('base64') });
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await Promise.allSettled([...this.owners].map((o) => o.close()));
    this.owners.clear();
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}

/** Messages handled in one transaction. */
const chunkSize = 16;

/** Runs `work` over `items`, at most `limit` at a time; rejects with the first failure after all settled. */
async function mapLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length && failure === undefined) {
        const item = items[next++]!;
        try {
          await work(item);
        } catch (err) {
          failure ??= err;
        }
      }
    }),
  );
  if (failure !== undefined) throw failure;
}

/** Kafka's answers meaning this member's producer was fenced: another member took the partition over. */
function lostOwnership(err: unknown): boolean {
  return hasType(err, ['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH']);
}

/** Kafka's answers meaning the member's assignment is over: it must re-join the group. */
const rejoinTypes = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP', 'FENCED_INSTANCE_ID']);

/**
 * Heartbeats between chunks. A rebalance (or the member's eviction) ends the assignment: the error
 * goes up to kafkajs, which re-joins once the batches in hand stop, instead of after they are done.
 */
async function keepMembership(heartbeat: () => Promise<void>, owners: PartitionOwners): Promise<void> {
  try {
    await heartbeat();
  } catch (err) {
    if (!rejoinTypes.has((err as { type?: string }).type ?? '')) return; // the next heartbeat retries
    owners.retire();
    throw err;
  }
}

/** Ends the assignment after a fenced producer or a transaction of unknown outcome, and asks for a re-join. */
function giveUp(owners: PartitionOwners, partition: number, err: unknown, log: Logger): Error {
  owners.retire();
  const fenced = lostOwnership(err);
  log.warn(
    { err: toAppError(err), partition },
    fenced
      ? 'another member took the partition over; re-joining the group'
      : 'a transaction could not be completed or aborted; re-joining the group to take the partitions over again',
  );
  return rejoin(`partition ${partition}: ${fenced ? 'fenced by a new owner' : 'transaction outcome unknown'}`);
}

/** An error on which kafkajs re-joins the group (it takes a failure of a batch with a rebalance error as one). */
function rejoin(reason: string): Error {
  return new KafkaJSProtocolError(Object.assign(new Error(reason), { type: 'REBALANCE_IN_PROGRESS', code: 27 }));
}

/**
 * Waits until every partition of `topics` has a leader. kafkajs's own wait (createTopics'
 * waitForLeaders) gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a
 * moment after it created a topic.
 */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      if (found.length === topics.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (!hasType(err, ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']) || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics without a leader after ${timeoutMs} ms: ${topics.join(', ')}`);
    await sleep(100);
  }
}

/** Whether a kafkajs error, or one of its causes, is of one of `types`. */
function hasType(err: unknown, types: readonly string[]): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (types.includes((e as { type?: string }).type ?? '')) return true;
  }
  return false;
}

/** A client id unique enough to tell processes apart in broker logs. */
export const defaultClientId = (service: string): string => `facewatch-${service}-${hostname()}-${process.pid}`;

/**
 * A registry answer that another process is registering the same subject at this moment: a
 * conflict, or (read between the other's register and its compatibility rule) a subject whose
 * compatibility is not yet the one the client asks for.
 */
function isRegistryConflict(err: unknown): boolean {
  const { status, name, message } = err as { status?: unknown; name?: unknown; message?: unknown };
  return status === 409 || name === 'ConfluentSchemaRegistryCompatibilityError' || /already exists/i.test(String(message ?? ''));
}
