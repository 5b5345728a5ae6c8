import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { hideAbortedRecords, type FetchedPartition, type FetchedRecord } from './read-committed.js';

const abortMarker = Buffer.from([0, 0, 0, 0]);
const commitMarker = Buffer.from([0, 0, 0, 1]);
const data = (offset: number, producerId: string): FetchedRecord => ({
  offset: String(offset),
  key: Buffer.from(`v${offset}`),
  isControlRecord: false,
  batchContext: { producerId, inTransaction: true },
});
const marker = (offset: number, producerId: string, key: Buffer): FetchedRecord => ({
  offset: String(offset),
  key,
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});
const visible = (p: FetchedPartition): string[] => p.messages.filter((m) => !m.isControlRecord).map((m) => m.offset);

// Producers A and B each begin a transaction (A first), B aborts, then A aborts; then A commits
// one more. The broker lists aborted transactions in the order they ended: B's, then A's.
const reverseEnded = (): FetchedPartition => ({
  abortedTransactions: [
    { producerId: 'B', firstOffset: '1' },
    { producerId: 'A', firstOffset: '0' },
  ],
  messages: [data(0, 'A'), data(1, 'B'), marker(2, 'B', abortMarker), data(3, 'A'), marker(4, 'A', abortMarker), data(5, 'A'), marker(6, 'A', commitMarker)],
});

test('transactions aborted in the reverse order of their start: only the committed record stays visible', () => {
  const p = reverseEnded();
  assert.equal(hideAbortedRecords(p), 3);
  assert.deepEqual(visible(p), ['5']);
  assert.deepEqual(p.abortedTransactions, [], 'nothing left for kafkajs to filter');
});

test("kafkajs 2.2.4's own filter lets the earlier aborted transaction through (why hideAbortedRecords exists)", () => {
  const filter = createRequire(import.meta.url)('kafkajs/src/consumer/filterAbortedMessages.js') as (a: FetchedPartition) => FetchedRecord[];
  const p = reverseEnded();
  const kept = filter(p)
    .filter((m) => !m.isControlRecord)
    .map((m) => m.offset);
  assert.deepEqual(kept, ['0', '5'], 'if this fails, kafkajs changed: check whether the workaround is still needed');
});

test('a fetch that starts inside several aborted transactions, and one producer aborting then committing', () => {
  // fetched from offset 10: A's and B's aborted transactions began before it
  const p: FetchedPartition = {
    abortedTransactions: [
      { producerId: 'B', firstOffset: '7' },
      { producerId: 'A', firstOffset: '4' },
      { producerId: 'C', firstOffset: '14' },
    ],
    messages: [
      data(10, 'B'),
      data(11, 'A'),
      marker(12, 'A', abortMarker),
      marker(13, 'B', abortMarker),
      data(14, 'C'),
      data(15, 'A'),
      marker(16, 'C', abortMarker),
      marker(17, 'A', commitMarker),
      data(18, 'C'),
      marker(19, 'C', commitMarker),
    ],
  };
  assert.equal(hideAbortedRecords(p), 3);
  assert.deepEqual(visible(p), ['15', '18']);
});

test('nothing aborted: nothing hidden, non-transactional records untouched', () => {
  const p: FetchedPartition = {
    abortedTransactions: [],
    messages: [{ ...data(0, '-1'), batchContext: { producerId: '-1', inTransaction: false } }, data(1, 'A'), marker(2, 'A', commitMarker)],
  };
  assert.equal(hideAbortedRecords(p), 0);
  assert.deepEqual(visible(p), ['0', '1']);
});
