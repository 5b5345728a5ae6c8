import { hostname } from 'node:os';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
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
 * (acks -1, idempotent producer). A subscription is a consumer group member that commits a message's
 * offset only after its handler finished: a retryable failure (database or broker down) is retried
 * with back-off and jitter and never skipped; a message that cannot be decoded, or whose handler
 * fails for good, goes to the dead-letter topic with its error code and original payload, then is
 * committed, so the stream keeps flowing.
 */
export class KafkaBus implements EventBus {
  /** Kafka redelivers uncommitted messages: handlers throw retryable errors instead of swallowing them. */
  readonly redelivers = true;
  private readonly kafka: Kafka;
  private readonly consumers = new Set<Consumer>();
  private producer: Producer | undefined;
  private registry: SchemaRegistry | undefined;
  private readonly schemaIds = new Map<Topic, number>();
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
      throw new AppError(ErrorCode.DB_UNAVAILABLE, `Kafka is not reachable at ${options.brokers.join(',')}: ${(err as Error).message}`, { cause: err, retryable: true });
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
      await this.producer.send({ topic: this.options.topicNames[topic], acks: -1, messages: [{ key, value: await this.encode(topic, event) }] });
    } catch (err) {
      const e = toAppError(err);
      if (e.code === ErrorCode.INVALID_ARGUMENT) throw e;
      throw new AppError(ErrorCode.DB_UNAVAILABLE, `publishing to ${this.options.topicNames[topic]} failed: ${e.message}`, { cause: err, retryable: true });
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
    await consumer.subscribe({ topic: name, fromBeginning: true });
    let active = 0;
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.concurrency ?? 1,
      eachMessage: async ({ partition, message, heartbeat }) => {
        active++;
        try {
          const commit = (): Promise<void> => consumer.commitOffsets([{ topic: name, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
          let event: EventMap[T];
          try {
            event = await this.decode(topic, message.value);
          } catch (err) {
            await this.deadLetter(name, message.value, toAppError(err), log);
            await commit();
            return;
          }
          for (let attempt = 1; ; attempt++) {
            try {
              await handler(event);
              break;
            } catch (err) {
              const e = toAppError(err);
              if (!e.retryable) {
                await this.deadLetter(name, message.value, e, log);
                break;
              }
              if (this.closing) throw e; // leave it uncommitted: redelivered after the restart
              const delay = Math.min(this.options.retryMaxMs ?? 30_000, (this.options.retryInitialMs ?? 500) * 2 ** Math.min(attempt - 1, 10));
              log.warn({ err: e, attempt, delayMs: delay, offset: message.offset }, 'retryable failure; retrying');
              await sleep(delay / 2 + Math.random() * (delay / 2));
              await heartbeat().catch(() => undefined);
            }
          }
          await commit();
        } finally {
          active--;
        }
      },
    });
    return {
      close: async () => {
        this.consumers.delete(consumer);
        await consumer.disconnect();
        while (active > 0) await sleep(50);
      },
    };
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
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}

/** A client id unique enough to tell processes apart in broker logs. */
export const defaultClientId = (service: string): string => `facewatch-${service}-${hostname()}-${process.pid}`;
