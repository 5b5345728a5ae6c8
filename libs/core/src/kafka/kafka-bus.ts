import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import { Kafka, logLevel, type Admin, type Consumer, type Producer, type Transaction } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { AppError, ErrorCode, toAppError } from '../errors.js';
import { eventJsonSchemas, fromWire, toWire } from '../event-schemas.js';
import { Topic, type EventBus, type EventMap, type SubscribeOptions, type Subscription } from '../events.js';
import type { Logger } from '../logger.js';

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
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The scale profile's bus on Apache Kafka (kafkajs). Publishing waits for all in-sync replicas
 * (acks -1, idempotent producer). A subscription is a consumer group member; messages are handled
 * in Kafka transactions (a chunk of up to 16 messages of one partition each): everything the
 * handlers publish (results, alerts, dead letters) and the chunk's offset commit together or not at
 * all, so a consumer killed mid-chunk leaves no duplicate or partial output for read-committed
 * readers, and the chunk is redelivered. A
 * retryable failure (database or broker down) is retried with back-off and jitter, never skipped; a
 * message that cannot be decoded, or whose handler fails for good, goes to the dead-letter topic
 * with its error code and original payload, so the stream keeps flowing.
 */
export class KafkaBus implements EventBus {
  /** Kafka redelivers uncommitted messages: handlers throw retryable errors instead of swallowing them. */
  readonly redelivers = true;
  private readonly kafka: Kafka;
  private readonly consumers = new Set<Consumer>();
  private producer: Producer | undefined;
  private registry: SchemaRegistry | undefined;
  private readonly schemaIds = new Map<Topic, number>();
  /** The transaction of the message being handled: what its handler publishes joins it. */
  private readonly currentTransaction = new AsyncLocalStorage<{ tx: Transaction; sends: Promise<unknown> }>();
  /** Transactional producers, one per consumed partition (stable ids, so a new owner fences a dead one). */
  private readonly txProducers = new Map<string, Promise<Producer>>();
  private closing = false;

  private constructor(private readonly options: KafkaBusOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log }) => {
        const { message, ...extra } = log;
        if (level <= logLevel.ERROR) options.log.error({ kafka: extra }, message);
        else options.log.warn({ kafka: extra }, message);
      },
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
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
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.options.partitions,
            replicationFactor: this.options.replicationFactor,
            configEntries: [{ name: 'max.message.bytes', value: String(this.options.maxMessageBytes) }],
          })),
        });
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
      const { id } = await this.registry.register(
        { type: SchemaType.JSON, schema: JSON.stringify(schemas[topic]) },
        { subject: `${this.options.topicNames[topic]}-value` },
      );
      this.schemaIds.set(topic, id);
    }
    this.options.log.info({ registry: host }, 'event schemas registered');
  }

  private async encode<T extends Topic>(topic: T, event: EventMap[T]): Promise<Buffer> {
    const wire = toWire(topic, event);
    fromWire(topic, wire); // validate before sending: a bad event is our bug, not the consumer's
    const id = this.schemaIds.get(topic);
    return this.registry && id !== undefined ? this.registry.encode(id, wire) : Buffer.from(JSON.stringify(wire));
  }

  private async decode<T extends Topic>(topic: T, value: Buffer | null): Promise<EventMap[T]> {
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

  async publish<T extends Topic>(topic: T, key: string, event: EventMap[T]): Promise<void> {
    if (!this.producer) throw new AppError(ErrorCode.POOL_CLOSED, 'the Kafka bus is closed');
    try {
      const record = { topic: this.options.topicNames[topic], acks: -1, messages: [{ key, value: await this.encode(topic, event) }] };
      const current = this.currentTransaction.getStore();
      if (current) {
        // one operation at a time on a transaction (kafkajs refuses concurrent ones)
        const sent = current.sends.then(() => current.tx.send(record));
        current.sends = sent.catch(() => undefined);
        await sent;
      } else await this.producer.send(record);
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
      allowAutoTopicCreation: false,
      maxBytesPerPartition: this.options.maxMessageBytes,
      maxBytes: this.options.maxMessageBytes * 2,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    this.consumers.add(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: name, fromBeginning: options.fromBeginning ?? true });
    // resolve once the group has assigned partitions and fetching began, so an event published
    // right after subscribe() returns is not missed by a group that starts at the latest offset
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
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        active++;
        try {
          const partition = batch.partition;
          // messages of one partition are handled in chunks, each chunk in ONE transaction with its
          // offset: the transaction's fixed cost (about 50 ms here) is shared by the chunk
          for (let i = 0; i < batch.messages.length; i += chunkSize) {
            if (!isRunning() || isStale()) return;
            const chunk = batch.messages.slice(i, i + chunkSize);
            const last = chunk[chunk.length - 1]!;
            const next = (BigInt(last.offset) + 1n).toString();
            if (options.fromBeginning === false) {
              // a listener (replies, live alerts): it publishes nothing, so no transaction; a failure is only logged
              for (const message of chunk) {
                try {
                  await handler(await this.decode(topic, message.value));
                } catch (err) {
                  log.warn({ err, offset: message.offset }, 'listener failed on a message; skipped');
                }
              }
              await consumer.commitOffsets([{ topic: name, partition, offset: next }]).catch(() => undefined);
            } else if (!(await this.handleChunk(topic, name, partition, options, chunk, next, handler, consumer, heartbeat, log))) return;
            resolveOffset(last.offset);
            await heartbeat().catch(() => undefined);
          }
        } finally {
          active--;
        }
      },
    });
    await Promise.race([joined, sleep(60_000)]);
    return {
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.disconnect();
        while (active > 0) await sleep(50);
      },
    };
  }

  /**
   * Handles a chunk of one partition's messages in one transaction that also commits their offset.
   * Within the chunk, handlers run `concurrency` at a time. A retryable failure aborts the whole
   * chunk and retries it with back-off (handlers are idempotent); a message that cannot be decoded
   * or fails for good goes to the dead-letter topic inside the transaction. Returns false when the
   * partition moved to another member or the bus is closing (the chunk is left uncommitted).
   */
  private async handleChunk<T extends Topic>(
    topic: T,
    name: string,
    partition: number,
    options: SubscribeOptions,
    chunk: { value: Buffer | null; offset: string }[],
    next: string,
    handler: (event: EventMap[T]) => Promise<void>,
    consumer: Consumer,
    heartbeat: () => Promise<void>,
    log: Logger,
  ): Promise<boolean> {
    const producer = await this.transactionalProducer(options.group, name, partition);
    const offsets = { consumerGroupId: options.group, topics: [{ topic: name, partitions: [{ partition, offset: next }] }] };
    const handleOne = async (message: { value: Buffer | null }): Promise<void> => {
      let event: EventMap[T];
      try {
        event = await this.decode(topic, message.value);
      } catch (err) {
        await this.deadLetter(name, message.value, toAppError(err), log);
        return;
      }
      try {
        await handler(event);
      } catch (err) {
        const e = toAppError(err);
        if (e.retryable) throw e;
        await this.deadLetter(name, message.value, e, log);
      }
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const tx = await producer.transaction();
        try {
          const state = { tx, sends: Promise.resolve() as Promise<unknown> };
          await this.currentTransaction.run(state, () => mapLimit(chunk, options.concurrency ?? 1, handleOne));
          await state.sends;
          await tx.sendOffsets(offsets);
          await tx.commit();
        } catch (err) {
          await tx.abort().catch(() => undefined);
          throw err;
        }
        // The transaction's offset becomes visible to the group only once the coordinator has
        // written its markers, a moment after commit() returns; a member that takes the partition
        // in that moment would read the older offset and repeat the chunk (Kafka's fix, KIP-447's
        // stable offset fetch, is not in kafkajs). A plain commit of the same offset narrows it.
        await consumer.commitOffsets([{ topic: name, partition, offset: next }]).catch(() => undefined);
        return true;
      } catch (err) {
        const e = toAppError(err);
        if (this.closing) return false; // left uncommitted: redelivered after the restart
        if (lostOwnership(err)) {
          this.txProducers.delete(`facewatch-${options.group}-${name}-${partition}`);
          log.info({ partition }, 'partition moved to another member; its messages are left to it');
          return false;
        }
        const delay = Math.min(this.options.retryMaxMs ?? 30_000, (this.options.retryInitialMs ?? 500) * 2 ** Math.min(attempt - 1, 10));
        log.warn({ err: e, attempt, delayMs: delay, partition, offset: chunk[0]!.offset }, 'retryable failure; retrying');
        await sleep(delay / 2 + Math.random() * (delay / 2));
        await heartbeat().catch(() => undefined);
      }
    }
  }

  private transactionalProducer(group: string, topic: string, partition: number): Promise<Producer> {
    const id = `facewatch-${group}-${topic}-${partition}`;
    let producer = this.txProducers.get(id);
    if (!producer) {
      producer = (async () => {
        const p = this.kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
        await p.connect();
        return p;
      })();
      this.txProducers.set(id, producer);
      producer.catch(() => this.txProducers.delete(id));
    }
    return producer;
  }

  private async deadLetter(from: string, value: Buffer | null, error: AppError, log: Logger): Promise<void> {
    let payload: unknown = null;
    if (value) {
      try {
        payload = this.registry && value[0] === 0 ? await this.registry.decode(value) : JSON.parse(value.toString('utf8'));
      } catch {
        payload = { undecodable_base64: value.toString('base64') };
      }
    }
    log.warn({ code: error.code }, `message sent to the dead-letter topic: ${error.message}`);
    await this.publish(Topic.deadLetter, `${from}`, { error: { code: error.code, message: error.message }, payload, topic: from, failed_at: new Date().toISOString() });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await Promise.allSettled([...this.txProducers.values()].map(async (p) => (await p).disconnect()));
    this.txProducers.clear();
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

/** Kafka's answers meaning this member no longer owns the partition or its transactional id. */
function lostOwnership(err: unknown): boolean {
  const types = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (types.has((e as { type?: string }).type ?? '')) return true;
  }
  return false;
}

/** A client id unique enough to tell processes apart in broker logs. */
export const defaultClientId = (service: string): string => `facewatch-${service}-${hostname()}-${process.pid}`;
