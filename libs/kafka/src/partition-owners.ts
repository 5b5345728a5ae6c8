import type { Kafka, Producer } from 'kafkajs';
import { type Logger } from '@facewatch/core';

/** An input partition as this member owns it in the current assignment. */
export interface PartitionOwner {
  readonly partition: number;
  /**
   * The partition's transactional producer (one stable transactional id per group, topic and
   * partition), initialised — the previous owner fenced, its open transaction completed or
   * aborted — before `committed` was read.
   */
  readonly producer: Producer;
  /** The group's committed offset of the partition, read after the fencing; null when none was ever committed. */
  readonly committed: bigint | null;
  /** Whether the consumer's position was checked against `committed` (once, on the first batch). */
  positioned: boolean;
}

export interface PartitionOwnersOptions {
  kafka: Kafka;
  group: string;
  topic: string;
  /** The group's committed offset of a partition of `topic` (null: none). */
  committedOffset: (partition: number) => Promise<bigint | null>;
  log: Logger;
}

/**
 * The partitions one consumer-group member owns, each with its transactional producer: the
 * pre-KIP-447 way to exactly-once output while partitions move (kafkajs has neither half of
 * KIP-447). On every assignment each partition is taken over anew, in this order: a new producer
 * with the partition's transactional id is initialised, which fences every earlier producer of
 * that id (a dead, leaving or paused previous owner) and makes the broker finish that producer's
 * open transaction (committed if its commit had begun, aborted otherwise); only then is the
 * partition's committed offset read. So the offset read is never older than the output already
 * written, and a fenced owner cannot write any more. Handling starts at that offset.
 */
export class PartitionOwners {
  /** Changes with every assignment, and when the assignment is given up: batches of an older one stop. */
  epoch = 0;
  private owners = new Map<number, Promise<PartitionOwner>>();
  /** Owners of earlier assignments, closed at the next one (a batch may still be finishing with them). */
  private retired: Promise<PartitionOwner>[] = [];

  constructor(private readonly options: PartitionOwnersOptions) {}

  /** A new assignment (the member joined the group): every partition is taken over at once, so a dead owner's open transaction is aborted without waiting for a batch. */
  assign(partitions: readonly number[]): void {
    const earlier = [...this.retired, ...this.owners.values()];
    this.retired = [];
    this.owners = new Map(partitions.map((p) => [p, this.take(p)]));
    this.epoch++;
    void closeAll(earlier);
    this.options.log.info({ partitions, epoch: this.epoch }, 'partitions assigned; taking them over');
  }

  /** Gives the assignment up (the member re-joins the group): no partition is owned until the next one. */
  retire(): void {
    this.retired.push(...this.owners.values());
    this.owners = new Map();
    this.epoch++;
  }

  /** The owner of `partition` in the current assignment (undefined when the partition is not in it). */
  get(partition: number): Promise<PartitionOwner> | undefined {
    return this.owners.get(partition);
  }

  /** Takes `partition` over again after a failed take-over (the broker was unreachable). */
  retake(partition: number): void {
    if (this.owners.has(partition)) this.owners.set(partition, this.take(partition));
  }

  async close(): Promise<void> {
    this.retire();
    const all = this.retired;
    this.retired = [];
    await closeAll(all);
  }

  private take(partition: number): Promise<PartitionOwner> {
    const { kafka, group, topic, committedOffset } = this.options;
    const taking = (async () => {
      const producer = kafka.producer({ transactionalId: transactionalId(group, topic, partition), idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      try {
        await producer.connect();
        // kafkajs initialises the transactional producer id (InitProducerId: the fencing) at the
        // first transaction, not at connect(): begin one and end it with nothing sent
        await (await producer.transaction()).abort();
        return { partition, producer, committed: await committedOffset(partition), positioned: false };
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        throw err;
      }
    })();
    taking.catch(() => undefined); // awaited by the partition's next batch, which retries
    return taking;
  }
}

/** The transactional id of a group's producer for one input partition: stable across members and restarts. */
export const transactionalId = (group: string, topic: string, partition: number): string => `facewatch-${group}-${topic}-${partition}`;

async function closeAll(owners: Promise<PartitionOwner>[]): Promise<void> {
  await Promise.allSettled(owners.map(async (o) => (await o).producer.disconnect()));
}
