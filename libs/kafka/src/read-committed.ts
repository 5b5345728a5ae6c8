import { createRequire } from 'node:module';

/** A record as kafkajs decodes it from a Fetch response (the fields the filter reads). */
export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}

/** One partition of a decoded Fetch response. */
export interface FetchedPartition {
  abortedTransactions?: { producerId: string; firstOffset: string }[];
  messages: FetchedRecord[];
}

/**
 * Hides the records of aborted transactions in one partition of a read_committed Fetch response,
 * the way Kafka's own consumer does: walking the records in offset order, a producer is "aborting"
 * from the first offset of each of its aborted transactions until its abort marker, and its
 * transactional records meanwhile are dropped. Hidden records are flagged as control records, so
 * kafkajs skips them and still moves its position past them; the response's aborted-transaction
 * list is emptied, so kafkajs's own filter has nothing left to do.
 *
 * Why: kafkajs 2.2.4 expects that list in first-offset order and takes one entry per record, but
 * the broker lists aborted transactions in the order they ended. When two producers' aborted
 * transactions overlap in a partition and the later-started one ends first, kafkajs hands the
 * earlier one's records to read_committed readers (the bus's transactional producers, one per
 * input partition, make that overlap common). Returns how many records were hidden.
 */
export function hideAbortedRecords(partition: FetchedPartition): number {
  const aborted = [...(partition.abortedTransactions ?? [])].sort((a, b) => (BigInt(a.firstOffset) < BigInt(b.firstOffset) ? -1 : 1));
  partition.abortedTransactions = [];
  if (aborted.length === 0) return 0;
  const aborting = new Set<string>();
  let next = 0;
  let hidden = 0;
  for (const record of partition.messages) {
    const offset = BigInt(record.offset);
    while (next < aborted.length && BigInt(aborted[next]!.firstOffset) <= offset) aborting.add(aborted[next++]!.producerId);
    const { producerId, inTransaction } = record.batchContext;
    if (record.isControlRecord) {
      // a control record's key: version (int16), then type (int16): 0 abort, 1 commit
      if (record.key && record.key.length >= 4 && record.key.readInt16BE(2) === 0) aborting.delete(producerId);
    } else if (inTransaction && aborting.has(producerId)) {
      record.isControlRecord = true;
      hidden++;
    }
  }
  return hidden;
}

let installed = false;

/**
 * Makes kafkajs's read_committed consumers in this process skip aborted transactions correctly
 * (hideAbortedRecords: kafkajs 2.2.4 lets some through). It wraps kafkajs's Fetch request, which
 * every consumer uses; KafkaBus installs it, and a process that reads transactional topics with
 * kafkajs directly (a test's reader) calls it itself. Idempotent.
 */
export function installReadCommittedFix(): void {
  if (installed) return;
  installed = true;
  // kafkajs (exactly 2.2.4, unmaintained) has no hook for this: its Broker class is patched
  const Broker = createRequire(import.meta.url)('kafkajs/src/broker/index.js') as {
    prototype: { fetch: (this: unknown, ...args: unknown[]) => Promise<{ responses: { partitions: FetchedPartition[] }[] }> };
  };
  const fetch = Broker.prototype.fetch;
  Broker.prototype.fetch = async function (this: unknown, ...args: unknown[]) {
    const response = await fetch.apply(this, args);
    for (const topic of response.responses) for (const partition of topic.partitions) hideAbortedRecords(partition);
    return response;
  };
}
