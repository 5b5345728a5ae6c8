import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { AppError, ErrorCode } from '../errors.js';
import { Topic, type EventBus, type ImageReceived } from '../events.js';

/** A fresh bus with topics of its own (events of one test never reach another), and how to drop it. */
export type MakeEventBus = () => Promise<{ bus: EventBus; cleanup: () => Promise<void> }>;

const received = (n: number, bytes = new Uint8Array([0, 1, 2, 255, n & 0xff])): ImageReceived => ({
  event_id: `e${n}`,
  source: 'kafka',
  identifier: `image-${n}.jpg`,
  image: { kind: 'bytes', bytes },
  received_at: new Date(1_800_000_000_000 + n).toISOString(),
});

/** Resolves when `condition` holds, checked on every event handled; fails after `ms`. */
function waiter(): { changed: () => void; until: (condition: () => boolean, what: string, ms?: number) => Promise<void> } {
  let wake: (() => void) | undefined;
  return {
    changed: () => wake?.(),
    until: async (condition, what, ms = 60_000) => {
      const deadline = Date.now() + ms;
      while (!condition()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 250).unref();
        });
      }
    },
  };
}

/**
 * What every EventBus gives the services, through the interface only: the in-process bus of the
 * embedded profile and the Kafka bus of the scale profile run the same suite. Where they differ
 * by design (an event whose handler failed: dropped in-process, delivered again by Kafka), the
 * suite asks the bus's `redelivers`.
 */
export function eventBusContract(name: string, makeBus: MakeEventBus): void {
  async function withBus(body: (bus: EventBus) => Promise<void>): Promise<void> {
    const { bus, cleanup } = await makeBus();
    try {
      await body(bus);
    } finally {
      await cleanup();
    }
  }
  const group = (label: string): string => `contract-${label}-${randomUUID().slice(0, 8)}`;

  describe(`EventBus contract: ${name}`, () => {
    test('every group receives every event, in order per key, equal to what was published (bytes included)', async () => {
      await withBus(async (bus) => {
        const w = waiter();
        const got: Record<string, ImageReceived[]> = { a: [], b: [] };
        for (const g of ['a', 'b'] as const) {
          await bus.subscribe(Topic.imageReceived, { group: group(g) }, async (e) => {
            got[g]!.push(e);
            w.changed();
          });
        }
        // one key: one partition, so the last event arrives after all the others
        for (let n = 1; n <= 20; n++) await bus.publish(Topic.imageReceived, 'one-key', received(n));
        await w.until(() => got['a']!.some((e) => e.event_id === 'e20') && got['b']!.some((e) => e.event_id === 'e20'), 'e20 in both groups');
        for (const g of ['a', 'b']) {
          const ids = got[g]!.map((e) => e.event_id);
          // handling is at-least-once on a bus that redelivers (a chunk whose transaction could not
          // commit, e.g. on a cold broker, is handled again): its outputs are what is exactly-once
          assert.deepEqual(
            bus.redelivers ? [...new Set(ids)] : ids,
            Array.from({ length: 20 }, (_, i) => `e${i + 1}`),
            `group ${g}: each${bus.redelivers ? ' at least' : ''} once, in order`,
          );
        }
        const sample = got['a']![6]!;
        assert.ok(sample.image.kind === 'bytes');
        assert.deepEqual(Buffer.from(sample.image.bytes), Buffer.from([0, 1, 2, 255, 7]));
        assert.deepEqual({ ...sample, image: null }, { ...received(7), image: null });
      });
    });

    test('the members of one group share its events: each event is handled by one of them (at least once where the bus redelivers)', async () => {
      await withBus(async (bus) => {
        const w = waiter();
        const handled: { member: number; id: string }[] = [];
        const g = group('shared');
        for (const member of [1, 2]) {
          await bus.subscribe(Topic.imageReceived, { group: g }, async (e) => {
            handled.push({ member, id: e.event_id });
            w.changed();
          });
        }
        for (let n = 1; n <= 40; n++) await bus.publish(Topic.imageReceived, `key-${n}`, received(n));
        await w.until(() => new Set(handled.map((h) => h.id)).size === 40, 'all 40 events');
        if (bus.redelivers) assert.ok(handled.length >= 40);
        else assert.equal(handled.length, 40, 'none twice');
      });
    });

    test('a listener (fromBeginning false) hears only what is published after it subscribed', async () => {
      await withBus(async (bus) => {
        const w = waiter();
        await bus.publish(Topic.imageReceived, 'k', received(1));
        const heard: string[] = [];
        await bus.subscribe(Topic.imageReceived, { group: group('listener'), fromBeginning: false }, async (e) => {
          heard.push(e.event_id);
          w.changed();
        });
        await bus.publish(Topic.imageReceived, 'k', received(2));
        await w.until(() => heard.includes('e2'), 'e2');
        assert.deepEqual(heard, ['e2']);
      });
    });

    test('a failed handler does not stop the stream; a bus that redelivers hands the failed event again', async () => {
      await withBus(async (bus) => {
        const w = waiter();
        const handled: string[] = [];
        let failed = 0;
        await bus.subscribe(Topic.imageReceived, { group: group('failing') }, async (e) => {
          if (e.event_id === 'e1' && failed === 0) {
            failed++;
            throw new AppError(ErrorCode.DB_UNAVAILABLE, 'the database is down for a moment', { retryable: true });
          }
          handled.push(e.event_id);
          w.changed();
        });
        await bus.publish(Topic.imageReceived, 'k', received(1));
        await bus.publish(Topic.imageReceived, 'k', received(2));
        await w.until(() => handled.includes('e2'), 'e2');
        assert.equal(failed, 1);
        assert.deepEqual(bus.redelivers ? [...new Set(handled)] : handled, bus.redelivers ? ['e1', 'e2'] : ['e2']);
      });
    });

    test('closing a subscription waits for the handler in progress', async () => {
      await withBus(async (bus) => {
        const w = waiter();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let started = false;
        let finished = false;
        const sub = await bus.subscribe(Topic.imageReceived, { group: group('closing') }, async () => {
          started = true;
          w.changed();
          await gate;
          finished = true;
        });
        await bus.publish(Topic.imageReceived, 'k', received(1));
        await w.until(() => started, 'the handler to start');
        let closed = false;
        const closing = sub.close().then(() => (closed = true));
        await new Promise((r) => setImmediate(r));
        assert.equal(closed, false, 'close does not return while the handler runs');
        release();
        await closing;
        assert.equal(finished, true, 'the handler finished before close returned');
      });
    });
  });
}
